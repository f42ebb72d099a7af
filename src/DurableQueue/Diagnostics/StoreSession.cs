using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DurableQueue.Diagnostics;

/// <summary>
/// One open store: a random 64-bit id, the process that holds it (id, start time, host, boot) and the options it was
/// opened with. Each store writes one <c>dq_meta</c> row, <c>session:{id}</c>, when it opens and deletes it when it
/// closes cleanly; a row whose process is gone marks an unclean end. The id is also the first 8 bytes of every lease
/// token the store hands out, so the leases an ended session left behind can be found without a column of their own.
/// </summary>
internal sealed record StoreSession(
    long Id,
    int ProcessId,
    string? ProcessStart,
    string Host,
    string? BootId,
    long OpenedAtMs,
    Durability Durability,
    long? MaxDatabaseBytes,
    long JournalSizeLimitBytes,
    bool ReleasesEndedLeases)
{
    public const string KeyPrefix = "session:";

    private static readonly Lazy<(int Pid, string? Start, string Host, string? Boot)> s_self = new(ReadSelf);

    public string Key => KeyPrefix + Id.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>Gets the first 8 bytes of this session's lease tokens.</summary>
    public byte[] TokenPrefix => PrefixOf(Id);

    public static byte[] PrefixOf(long id)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, id);
        return bytes;
    }

    /// <summary>Builds a lease token: the session id, then 8 random bytes (a token is only ever compared together with its message id).</summary>
    public static Guid NewLeaseToken(long sessionId)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, sessionId);
        Random.Shared.NextBytes(bytes[8..]);
        return new Guid(bytes);
    }

    public static StoreSession ForThisProcess(QueueStoreOptions options, long nowMs)
    {
        var self = s_self.Value;
        long id;
        do
        {
            id = Random.Shared.NextInt64();
        }
        while (id == 0);

        return new StoreSession(
            id, self.Pid, self.Start, self.Host, self.Boot, nowMs, options.Durability, options.MaxDatabaseBytes, options.JournalSizeLimitBytes,
            options.ReleaseLeasesOfEndedSessions);
    }

    /// <summary>Tells whether the process that holds this session still runs.</summary>
    public SessionLiveness Liveness()
    {
        var self = s_self.Value;
        if (!string.Equals(Host, self.Host, StringComparison.Ordinal))
        {
            // Another machine or container: its processes cannot be seen from here.
            return SessionLiveness.Unknown;
        }

        if (BootId is not null && self.Boot is not null && !string.Equals(BootId, self.Boot, StringComparison.Ordinal))
        {
            return SessionLiveness.Ended; // the machine restarted since
        }

        if (ProcessId == self.Pid && string.Equals(ProcessStart, self.Start, StringComparison.Ordinal))
        {
            return SessionLiveness.Alive;
        }

        var start = ProcessStartOf(ProcessId);
        if (start is null)
        {
            return SessionLiveness.Ended;
        }

        return ProcessStart is null || SameStart(start, ProcessStart) ? SessionLiveness.Alive : SessionLiveness.Ended;
    }

    public bool IsThisProcess
    {
        get
        {
            var self = s_self.Value;
            return ProcessId == self.Pid && string.Equals(Host, self.Host, StringComparison.Ordinal)
                && string.Equals(ProcessStart, self.Start, StringComparison.Ordinal);
        }
    }

    /// <summary>Tells whether two sessions would make the store behave differently on the same file.</summary>
    public bool SameOptionsAs(StoreSession other) =>
        Durability == other.Durability && MaxDatabaseBytes == other.MaxDatabaseBytes
        && JournalSizeLimitBytes == other.JournalSizeLimitBytes && ReleasesEndedLeases == other.ReleasesEndedLeases;

    public string DescribeOptions() => string.Create(
        CultureInfo.InvariantCulture,
        $"Durability={Durability}, MaxDatabaseBytes={(MaxDatabaseBytes?.ToString(CultureInfo.InvariantCulture) ?? "none")}, JournalSizeLimitBytes={JournalSizeLimitBytes}, ReleaseLeasesOfEndedSessions={ReleasesEndedLeases}");

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("pid", ProcessId);
            writer.WriteString("start", ProcessStart);
            writer.WriteString("host", Host);
            writer.WriteString("boot", BootId);
            writer.WriteNumber("opened", OpenedAtMs);
            writer.WriteString("durability", Durability.ToString());
            if (MaxDatabaseBytes is { } max)
            {
                writer.WriteNumber("maxDatabaseBytes", max);
            }

            writer.WriteNumber("journalSizeLimitBytes", JournalSizeLimitBytes);
            writer.WriteBoolean("releaseEndedLeases", ReleasesEndedLeases);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads a session row; null when the key or value is not one this version wrote.</summary>
    public static StoreSession? Parse(string key, string? value)
    {
        if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal) || value is null
            || !long.TryParse(key.AsSpan(KeyPrefix.Length), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var id))
        {
            return null;
        }

        try
        {
            using var json = JsonDocument.Parse(value);
            var root = json.RootElement;
            return new StoreSession(
                id,
                root.GetProperty("pid").GetInt32(),
                root.TryGetProperty("start", out var s) ? s.GetString() : null,
                root.GetProperty("host").GetString() ?? string.Empty,
                root.TryGetProperty("boot", out var b) ? b.GetString() : null,
                root.GetProperty("opened").GetInt64(),
                Enum.TryParse<Durability>(root.GetProperty("durability").GetString(), out var d) ? d : Durability.Full,
                root.TryGetProperty("maxDatabaseBytes", out var m) ? m.GetInt64() : null,
                root.TryGetProperty("journalSizeLimitBytes", out var j) ? j.GetInt64() : 0,
                root.TryGetProperty("releaseEndedLeases", out var r) && r.GetBoolean());
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return null;
        }
    }

    private static (int, string?, string, string?) ReadSelf()
    {
        var pid = Environment.ProcessId;
        return (pid, ProcessStartOf(pid), Environment.MachineName, ReadBootId());
    }

    private static string? ReadBootId()
    {
        try
        {
            return OperatingSystem.IsLinux() ? File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The start of a running process, so that a reused process id is not taken for the session's process: on Linux
    /// the exact start tick from <c>/proc/{pid}/stat</c> (a zombie counts as ended), elsewhere the start time in seconds.
    /// Null when no such process runs.
    /// </summary>
    internal static string? ProcessStartOf(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
                // The command name may hold spaces and parentheses: fields are counted after the last ')'.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return fields[0] is "Z" or "X" ? null : "linux:" + fields[19];
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                return null;
            }
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.HasExited)
            {
                return null;
            }

            return "s:" + (process.StartTime.ToUniversalTime().Ticks / TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return null;
        }
    }

    private static bool SameStart(string a, string b)
    {
        if (string.Equals(a, b, StringComparison.Ordinal))
        {
            return true;
        }

        // Start times in seconds may differ by one across readings of the boot time.
        return a.StartsWith("s:", StringComparison.Ordinal) && b.StartsWith("s:", StringComparison.Ordinal)
            && long.TryParse(a.AsSpan(2), CultureInfo.InvariantCulture, out var x) && long.TryParse(b.AsSpan(2), CultureInfo.InvariantCulture, out var y)
            && Math.Abs(x - y) <= 2;
    }
}

/// <summary>Whether the process of a session still runs.</summary>
internal enum SessionLiveness
{
    Alive,
    Ended,
    Unknown,
}
