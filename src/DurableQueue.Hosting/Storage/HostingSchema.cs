using System.Data.Common;
using System.Globalization;
using System.Reflection;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Hosting.Storage;

/// <summary>
/// Applies the hosting layer's embedded migrations (<c>Storage/Migrations/NNNN_*.sql</c>) inside a unit of work of the
/// core store, so that several processes opening the file at once migrate it once. The version lives in the core's
/// <c>dq_meta</c> table under its own key.
/// </summary>
internal static class HostingSchema
{
    private const string Prefix = "DurableQueue.Hosting.Migrations.";
    private static readonly (int Version, string Name)[] s_migrations = Load();

    public static int LatestVersion => s_migrations[^1].Version;

    public static ValueTask MigrateAsync(QueueStore store, CancellationToken cancellationToken) =>
        store.ExecuteAsync(tx => Migrate(tx.Connection, store.Path), cancellationToken);

    private static void Migrate(DbConnection connection, string path)
    {
        var current = connection.Scalar(JobSql.ReadVersion) is long v ? v : 0;
        if (current > LatestVersion)
        {
            throw new StoreFileException(path, StoreFileProblem.NewerSchema, HostingErrors.NewerHostingSchema(path, current, LatestVersion));
        }

        foreach (var (version, name) in s_migrations)
        {
            if (version > current)
            {
                connection.Execute(Read(name));
                connection.Execute(JobSql.WriteVersion, ("@version", version));
            }
        }
    }

    private static (int, string)[] Load()
    {
        var names = typeof(HostingSchema).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => (int.Parse(n.AsSpan(Prefix.Length, 4), NumberStyles.None, CultureInfo.InvariantCulture), n))
            .OrderBy(m => m.Item1)
            .ToArray();
        if (names.Length == 0 || names.Select((m, i) => m.Item1 != i + 1).Any(gap => gap))
        {
            throw new InvalidOperationException("The embedded hosting migrations must be numbered 0001, 0002, ... without gaps.");
        }

        return names;
    }

    private static string Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
