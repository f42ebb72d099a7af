using System.Globalization;

namespace DurableQueue.BenchmarkShared;

/// <summary>
/// CPU time of a process on this machine, read from <c>/proc/PID/stat</c> (Linux): user + system, and optionally what
/// it collected from children it reaped. The benchmarks use it for the CPU per message of a broker or a database
/// server beside their own process's.
/// </summary>
internal static class ProcStat
{
    /// <summary>Seconds per clock tick (USER_HZ, which is 100 on Linux).</summary>
    private const double Tick = 1.0 / 100;

    /// <summary>Index of the parent's id among <see cref="Fields"/>.</summary>
    public const int ParentId = 1;

    /// <summary>
    /// Returns the fields of the stat line after the command's closing parenthesis (the state first, then the parent's
    /// id, ...), or null when the process has ended or cannot be read.
    /// </summary>
    public static string[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Returns a process's user + system CPU time (and its reaped children's), or zero when it has ended.</summary>
    public static TimeSpan Cpu(int pid, bool withReapedChildren = false) =>
        Fields(pid) is { } fields ? Cpu(fields, withReapedChildren) : TimeSpan.Zero;

    /// <summary>Returns the user + system CPU time in a stat line's <see cref="Fields"/> (and the reaped children's).</summary>
    public static TimeSpan Cpu(string[] fields, bool withReapedChildren = false)
    {
        // utime, stime, cutime, cstime: fields 14 to 17 of the line, 11 to 14 after the command.
        long ticks = 0;
        for (var i = 11; i < (withReapedChildren ? 15 : 13); i++)
        {
            ticks += long.Parse(fields[i], CultureInfo.InvariantCulture);
        }

        return TimeSpan.FromSeconds(ticks * Tick);
    }

    /// <summary>Returns a process's command name, or null when it has ended or cannot be read.</summary>
    public static string? Command(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
