using System.Diagnostics;
using System.Globalization;
using DurableQueue.BenchmarkShared;
using Npgsql;

namespace DurableQueue.Load;

/// <summary>
/// CPU time spent by this process and by a PostgreSQL server on this machine (user + system, from /proc): the
/// postmaster and its children, plus what the postmaster collected from children that ended (their CPU is added to its
/// own children's count when it reaps them). CPU per message is a steadier comparison than a rate on a shared machine.
/// </summary>
internal sealed class PostgresCpu
{
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
            if (ProcStat.Fields(backend) is { } fields && ProcStat.Command(backend) == "postgres")
            {
                var parent = int.Parse(fields[ProcStat.ParentId], CultureInfo.InvariantCulture);
                postmaster = ProcStat.Command(parent) == "postgres" ? parent : 0;
            }
        }
        catch (NpgsqlException)
        {
            postmaster = 0;
        }

        return new PostgresCpu(postmaster);
    }

    /// <summary>Gets this process's CPU time so far, and the server's (null when the server is not a process here).</summary>
    public (TimeSpan Client, TimeSpan? Server) Take()
    {
        var client = Process.GetCurrentProcess().TotalProcessorTime;
        if (_postmaster == 0 || ProcStat.Fields(_postmaster) is not { } own)
        {
            return (client, null);
        }

        var server = ProcStat.Cpu(own, withReapedChildren: true);
        var postmaster = _postmaster.ToString(CultureInfo.InvariantCulture);
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ProcStat.Fields(pid) is { } fields && fields[ProcStat.ParentId] == postmaster)
            {
                server += ProcStat.Cpu(fields);
            }
        }

        return (client, server);
    }
}
