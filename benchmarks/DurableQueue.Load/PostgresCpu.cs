using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace DurableQueue.Load;

/// <summary>
/// CPU time spent by this process and by a PostgreSQL server on this machine (user + system, from /proc): the
/// postmaster and its children, plus what the postmaster collected from children that ended (their CPU is added to its
/// own children's count when it reaps them). CPU per message is a steadier comparison than a rate on a shared machine.
/// </summary>
internal sealed class PostgresCpu
{
    private const double Tick = 1.0 / 100; // USER_HZ: 100 on Linux

    private readonly int _postmaster;

    private PostgresCpu(int postmaster) => _postmaster = postmaster;

    /// <summary>Finds the server's postmaster through a backend's parent, when the server runs on this machine.</summary>
    public static async Task<PostgresCpu> FindAsync(string connectionString)
    {
        var postmaster = 0;
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT pg_backend_pid();", connection);
            var backend = (int)(await command.ExecuteScalarAsync())!;
            if (Fields(backend) is { } fields && ReadComm(backend) == "postgres")
            {
                // The parent's id is the second field after the command.
                var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
                postmaster = ReadComm(parent) == "postgres" ? parent : 0;
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or UnauthorizedAccessException)
        {
            postmaster = 0;
        }

        return new PostgresCpu(postmaster);
    }

    /// <summary>Gets this process's CPU time so far, and the server's (null when the server is not a process here).</summary>
    public (TimeSpan Client, TimeSpan? Server) Take()
    {
        var client = Process.GetCurrentProcess().TotalProcessorTime;
        if (_postmaster == 0 || Fields(_postmaster) is not { } own)
        {
            return (client, null);
        }

        // utime, stime, cutime, cstime are fields 14 to 17 of the stat line (11 to 14 after the command).
        double ticks = Sum(own, 11, 4);
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && Fields(pid) is { } fields && fields[1] == _postmaster.ToString(CultureInfo.InvariantCulture))
            {
                ticks += Sum(fields, 11, 2);
            }
        }

        return (client, TimeSpan.FromSeconds(ticks * Tick));
    }

    private static long Sum(string[] fields, int from, int count)
    {
        long sum = 0;
        for (var i = from; i < from + count; i++)
        {
            sum += long.Parse(fields[i], CultureInfo.InvariantCulture);
        }

        return sum;
    }

    /// <summary>The fields of /proc/pid/stat after the command's closing parenthesis (state first), or null.</summary>
    private static string[]? Fields(int pid)
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

    private static string? ReadComm(int pid)
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
