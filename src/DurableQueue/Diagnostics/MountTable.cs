using System.Globalization;
using System.Text;

namespace DurableQueue.Diagnostics;

/// <summary>One line of <c>/proc/self/mountinfo</c>.</summary>
internal sealed record MountEntry(
    int Id, int ParentId, int Major, int Minor, string Root, string MountPoint, string MountOptions, string FileSystemType, string Source, string SuperOptions)
{
    public bool HasOption(string option) =>
        MountOptions.Split(',').Contains(option, StringComparer.Ordinal) || SuperOptions.Split(',').Contains(option, StringComparer.Ordinal);
}

/// <summary>
/// The mount table of this process, read from <c>/proc/self/mountinfo</c> (Linux), and the mount that holds a file:
/// the one the kernel names for an open handle on it (<c>mnt_id</c> in <c>/proc/self/fdinfo</c>, exact through bind
/// mounts and symbolic links), else the longest mount point that prefixes the file's path.
/// </summary>
internal sealed class MountTable
{
    public const string DefaultPath = "/proc/self/mountinfo";

    private MountTable(IReadOnlyList<MountEntry> entries) => Entries = entries;

    public IReadOnlyList<MountEntry> Entries { get; }

    public static MountTable Parse(string text)
    {
        var entries = new List<MountEntry>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            var separator = line.IndexOf(" - ", StringComparison.Ordinal);
            if (separator < 0)
            {
                continue;
            }

            var left = line[..separator].Split(' ');
            var right = line[(separator + 3)..].Split(' ');
            if (left.Length < 6 || right.Length < 2)
            {
                continue;
            }

            var device = left[2].Split(':');
            if (!int.TryParse(left[0], CultureInfo.InvariantCulture, out var id)
                || !int.TryParse(left[1], CultureInfo.InvariantCulture, out var parent)
                || device.Length != 2
                || !int.TryParse(device[0], CultureInfo.InvariantCulture, out var major)
                || !int.TryParse(device[1], CultureInfo.InvariantCulture, out var minor))
            {
                continue;
            }

            entries.Add(new MountEntry(
                id, parent, major, minor, Unescape(left[3]), Unescape(left[4]), left[5], right[0], Unescape(right[1]), right.Length > 2 ? right[2] : string.Empty));
        }

        return new MountTable(entries);
    }

    /// <summary>Reads the table; null where there is none to read (not Linux, or /proc not mounted).</summary>
    public static MountTable? Read(string path)
    {
        try
        {
            return File.Exists(path) ? Parse(File.ReadAllText(path)) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public MountEntry? FindById(int id) => Entries.LastOrDefault(e => e.Id == id);

    /// <summary>The mount whose mount point is the longest prefix of <paramref name="path"/> (the last such line wins: it is mounted over the others).</summary>
    public MountEntry? FindByPath(string path)
    {
        MountEntry? best = null;
        foreach (var entry in Entries)
        {
            if (Contains(entry.MountPoint, path) && (best is null || entry.MountPoint.Length >= best.MountPoint.Length))
            {
                best = entry;
            }
        }

        return best;
    }

    public MountEntry? FindForFile(string path, int? mountId)
    {
        if (mountId is { } id && FindById(id) is { } byId)
        {
            return byId;
        }

        return FindByPath(ResolveLinks(path));
    }

    private static bool Contains(string mountPoint, string path) =>
        mountPoint == "/" || path == mountPoint || path.StartsWith(mountPoint.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>The path with its symbolic links resolved, as far as they exist.</summary>
    internal static string ResolveLinks(string path)
    {
        var current = Path.GetPathRoot(Path.GetFullPath(path)) ?? "/";
        foreach (var part in Path.GetFullPath(path)[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            try
            {
                if (new FileInfo(next).LinkTarget is not null)
                {
                    next = new FileInfo(next).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? next;
                }
            }
            catch (IOException)
            {
                // Unreadable: keep the name as written.
            }

            current = next;
        }

        return current;
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length
                && int.TryParse(field.AsSpan(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }

        return text.ToString();
    }
}
