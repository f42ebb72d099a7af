using System.Globalization;

namespace DurableQueue;

/// <summary>Message texts of the diagnostics API (inspection, verification, compaction); invariant culture, no trailing newline.</summary>
internal static class DiagnosticMessages
{
    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    public static string FileMissing(string path) => F($"'{path}' does not exist; an inspection never creates a file.");

    public static string DoctorNeedsAFile(string location) =>
        F($"{location} is a PostgreSQL store: the durability doctor checks a SQLite file and the disk it is on; the server's own settings and monitoring cover a database.");

    public static string NotAQueueStore(string path) =>
        F($"'{path}' is a SQLite database without DurableQueue tables; the file was left untouched.");

}
