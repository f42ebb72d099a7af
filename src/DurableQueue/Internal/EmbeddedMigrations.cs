using System.Globalization;
using System.Reflection;

namespace DurableQueue.Internal;

/// <summary>The numbered SQL migrations a package embeds (<c>prefix + NNNN_name.sql</c>), for every backend's migrator.</summary>
internal static class EmbeddedMigrations
{
    /// <summary>
    /// Lists the migrations of <paramref name="assembly"/> under <paramref name="prefix"/>, in order; they must be numbered
    /// 1, 2, ... without gaps, unless <paramref name="allowGaps"/> (a migrator that records the numbers it lacks, as the
    /// SQLite one does, since migrations written on parallel branches land in any order): then distinct, from 0001.
    /// </summary>
    public static (int Version, string Name)[] Load(Assembly assembly, string prefix, bool allowGaps = false)
    {
        var names = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => (int.Parse(n.AsSpan(prefix.Length, 4), NumberStyles.None, CultureInfo.InvariantCulture), n))
            .OrderBy(m => m.Item1)
            .ToArray();
        if (names.Length == 0 || names[0].Item1 != 1 || names.Select(m => m.Item1).Distinct().Count() != names.Length)
        {
            throw new InvalidOperationException("The embedded migrations must start at 0001 and have distinct numbers.");
        }

        if (!allowGaps && names.Select((m, i) => m.Item1 != i + 1).Any(gap => gap))
        {
            throw new InvalidOperationException("The embedded migrations must be numbered 0001, 0002, ... without gaps.");
        }

        return names;
    }

    /// <summary>Reads one migration's SQL.</summary>
    public static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
