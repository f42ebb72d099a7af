using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace DurableQueue.Testing.Postgres;

/// <summary>
/// A private PostgreSQL cluster for tests: <c>initdb</c> into a temp folder, started with <c>pg_ctl</c>, listening on
/// 127.0.0.1 on a free port and on a unix socket in that folder. When the process runs as root (as CI does) every server
/// program runs as the <c>postgres</c> user, which owns the folder, because the server refuses to run as root.
/// Disposing stops the server and deletes the folder.
/// </summary>
/// <remarks>
/// Start failures throw <see cref="PostgresClusterException"/> with the reason (missing binaries, a failed initdb, the
/// server log's tail), so a test that needs the server fails with that reason instead of passing without it.
/// </remarks>
public sealed class PostgresCluster : IAsyncDisposable
{
    /// <summary>The superuser the cluster is made with.</summary>
    public const string Superuser = "postgres";

    private const string FolderPrefix = "dq-pg-";
    private const string OwnerFile = "owner.pid";
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromSeconds(120);
    private static int s_databaseCounter;

    private readonly string _binaries;
    private readonly bool _asPostgresUser;
    private int _disposed;

    private PostgresCluster(string root, string binaries, bool asPostgresUser, string password, PostgresClusterOptions options)
    {
        Root = root;
        _binaries = binaries;
        _asPostgresUser = asPostgresUser;
        Password = password;
        Options = options;
    }

    /// <summary>Gets the temp folder that holds the data directory, the socket and the server log.</summary>
    public string Root { get; }

    /// <summary>Gets the data directory.</summary>
    public string DataDirectory => Path.Combine(Root, "data");

    /// <summary>Gets the folder of the unix socket.</summary>
    public string SocketDirectory => Root;

    /// <summary>Gets the server log file.</summary>
    public string LogFile => Path.Combine(Root, "server.log");

    /// <summary>Gets the TCP port on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary>Gets the superuser's password (TCP connections use password authentication).</summary>
    public string Password { get; }

    /// <summary>Gets the options the cluster was started with.</summary>
    public PostgresClusterOptions Options { get; }

    /// <summary>Gets a value indicating whether the server is running (as far as this object started or stopped it).</summary>
    public bool IsRunning { get; private set; }

    /// <summary>Gets the connection string of the superuser on the <c>postgres</c> database.</summary>
    public string AdminConnectionString => ConnectionString("postgres");

    /// <summary>Creates, configures and starts a new cluster.</summary>
    /// <param name="options">The options, or <see langword="null"/> for fast test settings.</param>
    /// <param name="cancellationToken">A token to cancel the start.</param>
    /// <returns>The running cluster; dispose it to stop the server and delete its folder.</returns>
    /// <exception cref="PostgresClusterException">The cluster could not be made or started; the message says why.</exception>
    public static async Task<PostgresCluster> StartAsync(PostgresClusterOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PostgresClusterOptions();
        var binaries = FindBinaries(options);
        var asPostgresUser = IsRoot();
        RemoveStaleClusters(binaries, asPostgresUser);

        var root = Directory.CreateTempSubdirectory(FolderPrefix).FullName;
        await File.WriteAllTextAsync(Path.Combine(root, OwnerFile), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken)
            .ConfigureAwait(false);
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        var cluster = new PostgresCluster(root, binaries, asPostgresUser, password, options);
        try
        {
            await cluster.InitAsync(cancellationToken).ConfigureAwait(false);
            await cluster.StartOnFreePortAsync(cancellationToken).ConfigureAwait(false);
            cluster.StartWatchdog();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Returns the superuser's connection string for a database, over TCP on 127.0.0.1.</summary>
    /// <param name="database">The database name.</param>
    /// <returns>A connection string with pooling on.</returns>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Superuser,
        Password = Password,
        Database = database,
        // Tests drop databases and stop the server; a short pool idle time keeps stale connections few.
        ConnectionIdleLifetime = 10,
        Timeout = 15,
    }.ConnectionString;

    /// <summary>Returns a connection string for another role, over TCP on 127.0.0.1.</summary>
    /// <param name="database">The database name.</param>
    /// <param name="user">The role name.</param>
    /// <param name="password">The role's password.</param>
    /// <returns>A connection string.</returns>
    public string ConnectionString(string database, string user, string password) =>
        new NpgsqlConnectionStringBuilder(ConnectionString(database)) { Username = user, Password = password }.ConnectionString;

    /// <summary>Creates a new, empty database with a unique name that starts with <paramref name="hint"/>.</summary>
    /// <param name="hint">A readable part of the name (a test class name, say); anything but letters and digits is dropped.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The superuser's connection string on the new database.</returns>
    public async Task<string> CreateDatabaseAsync(string hint, CancellationToken cancellationToken = default)
    {
        var name = DatabaseName(hint);
        await ExecuteAdminAsync($"CREATE DATABASE \"{name}\";", cancellationToken).ConfigureAwait(false);
        return ConnectionString(name);
    }

    /// <summary>Runs one statement as the superuser on the <c>postgres</c> database.</summary>
    /// <param name="sql">The statement.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>A task that completes when the statement has run.</returns>
    public async Task ExecuteAdminAsync(string sql, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(AdminConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the server.</summary>
    /// <param name="immediate">
    /// <see langword="true"/> for <c>pg_ctl stop -m immediate</c> (a crash: no checkpoint, recovery on the next start);
    /// <see langword="false"/> for a fast shutdown.
    /// </param>
    /// <param name="cancellationToken">A token to cancel the wait.</param>
    /// <returns>A task that completes when the server has stopped.</returns>
    public async Task StopAsync(bool immediate = false, CancellationToken cancellationToken = default)
    {
        await RunServerProgramAsync(
            "pg_ctl", ["stop", "-D", DataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60"], cancellationToken).ConfigureAwait(false);
        IsRunning = false;
        // Pooled connections to a stopped server are dead; drop them so the next open connects afresh.
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Starts the stopped server again on the same port (after <see cref="StopAsync"/>).</summary>
    /// <param name="cancellationToken">A token to cancel the start.</param>
    /// <returns>A task that completes when the server accepts connections.</returns>
    /// <exception cref="PostgresClusterException">The server did not start; the message holds the log's tail.</exception>
    public Task StartAgainAsync(CancellationToken cancellationToken = default) => StartServerAsync(cancellationToken);

    /// <summary>Stops the server (fast, then immediate if that fails) and deletes the cluster's folder.</summary>
    /// <returns>A task that completes when the folder is gone.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            try
            {
                await StopAsync(immediate: false).ConfigureAwait(false);
            }
            catch (PostgresClusterException)
            {
                await TryStopImmediateAsync(_binaries, DataDirectory, _asPostgresUser).ConfigureAwait(false);
            }
        }

        TryDelete(Root);
    }

    /// <summary>
    /// Starts a detached shell that waits for this test process to end and then stops the server and deletes the
    /// folder: a test host that is killed, or that ends before its exit handlers finish, leaves nothing running.
    /// </summary>
    private void StartWatchdog()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var pgCtl = Quote(Path.Combine(_binaries, "pg_ctl"));
        var stop = _asPostgresUser ? $"runuser -u {Superuser} -- {pgCtl}" : pgCtl;
        var script =
            $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; " +
            $"if [ -f {Quote(Path.Combine(DataDirectory, "postmaster.pid"))} ]; then {stop} stop -D {Quote(DataDirectory)} -m immediate -w -t 30; fi; " +
            $"rm -rf {Quote(Root)}";
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-f", "sh", "-c", script })
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(start);
            process?.WaitForExit(5000);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No setsid: the exit handler and the next run's sweep of stale clusters still clean up.
        }
    }

    private async Task InitAsync(CancellationToken cancellationToken)
    {
        var passwordFile = Path.Combine(Root, "pwfile");
        await File.WriteAllTextAsync(passwordFile, Password + "\n", cancellationToken).ConfigureAwait(false);
        if (_asPostgresUser)
        {
            await RunAsync("chown", ["-R", $"{Superuser}:", Root], asPostgresUser: false, cancellationToken).ConfigureAwait(false);
        }

        await RunServerProgramAsync(
            "initdb",
            [
                "-D", DataDirectory, "-U", Superuser, "--pwfile", passwordFile, "-E", "UTF8", "--locale", "C",
                "--auth-local", "trust", "--auth-host", "scram-sha-256", "--no-sync", "--no-instructions",
            ],
            cancellationToken).ConfigureAwait(false);
        File.Delete(passwordFile);

        // Appended after the defaults, so these win; File.AppendAllText keeps the file's owner.
        var settings = new StringBuilder()
            .AppendLine()
            .AppendLine("# Test cluster settings")
            .AppendLine("listen_addresses = '127.0.0.1'")
            .AppendLine(CultureInfo.InvariantCulture, $"unix_socket_directories = '{SocketDirectory}'")
            .AppendLine(CultureInfo.InvariantCulture, $"max_connections = {Options.MaxConnections}")
            .AppendLine("shared_buffers = 32MB")
            .AppendLine("wal_level = minimal")
            .AppendLine("max_wal_senders = 0")
            .AppendLine("logging_collector = off")
            .AppendLine("log_min_messages = warning");
        if (Options.Durable)
        {
            settings.AppendLine("fsync = on").AppendLine("synchronous_commit = on").AppendLine("full_page_writes = on");
        }
        else
        {
            // A test cluster never survives a machine crash; durability across that is tested with Durable = true.
            settings.AppendLine("fsync = off").AppendLine("synchronous_commit = off").AppendLine("full_page_writes = off");
        }

        await File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), settings.ToString(), cancellationToken).ConfigureAwait(false);
    }

    private async Task StartOnFreePortAsync(CancellationToken cancellationToken)
    {
        // A port found free can be taken by someone else before the server binds it; try a few.
        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            await File.AppendAllTextAsync(
                Path.Combine(DataDirectory, "postgresql.conf"), $"port = {Port.ToString(CultureInfo.InvariantCulture)}\n", cancellationToken).ConfigureAwait(false);
            try
            {
                await StartServerAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (PostgresClusterException) when (attempt < 3 && ReadLogTail().Contains("could not bind", StringComparison.OrdinalIgnoreCase))
            {
            }
        }
    }

    private async Task StartServerAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RunServerProgramAsync("pg_ctl", ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", "60"], cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresClusterException ex)
        {
            throw new PostgresClusterException($"{ex.Message}\nServer log ({LogFile}):\n{ReadLogTail()}", ex);
        }

        IsRunning = true;
    }

    private string ReadLogTail()
    {
        try
        {
            var lines = File.ReadAllLines(LogFile);
            return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 20)));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private Task RunServerProgramAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(Path.Combine(_binaries, program), arguments, _asPostgresUser, cancellationToken);

    private static string DatabaseName(string hint)
    {
        var letters = new string(hint.Where(char.IsAsciiLetterOrDigit).Select(char.ToLowerInvariant).ToArray());
        if (letters.Length > 40)
        {
            letters = letters[^40..];
        }

        return $"dq_{letters}_{Interlocked.Increment(ref s_databaseCounter).ToString(CultureInfo.InvariantCulture)}";
    }

    private static string FindBinaries(PostgresClusterOptions options)
    {
        var folder = options.BinDirectory ?? Environment.GetEnvironmentVariable("DQ_PG_BIN") ?? "/usr/lib/postgresql/15/bin";
        foreach (var program in new[] { "initdb", "pg_ctl", "postgres" })
        {
            if (!File.Exists(Path.Combine(folder, program)))
            {
                throw new PostgresClusterException(
                    $"The PostgreSQL server program '{program}' was not found in '{folder}'. Install the postgresql-15 package " +
                    "(apt-get install postgresql-15) or set DQ_PG_BIN to the folder of initdb and pg_ctl.");
            }
        }

        return folder;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops and deletes clusters left behind by test processes that died without cleaning up.</summary>
    private static void RemoveStaleClusters(string binaries, bool asPostgresUser)
    {
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            try
            {
                var owner = int.Parse(File.ReadAllText(Path.Combine(folder, OwnerFile)), CultureInfo.InvariantCulture);
                if (IsAlive(owner))
                {
                    continue;
                }
            }
            catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
            {
                // No owner file: a folder being made right now, or not ours to judge; leave it.
                continue;
            }

            var data = Path.Combine(folder, "data");
            if (File.Exists(Path.Combine(data, "postmaster.pid")))
            {
                TryStopImmediateAsync(binaries, data, asPostgresUser).GetAwaiter().GetResult();
            }

            TryDelete(folder);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static async Task TryStopImmediateAsync(string binaries, string dataDirectory, bool asPostgresUser)
    {
        try
        {
            await RunAsync(Path.Combine(binaries, "pg_ctl"), ["stop", "-D", dataDirectory, "-m", "immediate", "-w", "-t", "30"], asPostgresUser, default)
                .ConfigureAwait(false);
        }
        catch (PostgresClusterException)
        {
            // Best effort: the folder is deleted either way.
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, bool asPostgresUser, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // The server programs must not inherit a working folder the postgres user cannot enter.
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asPostgresUser)
        {
            start.FileName = "runuser";
            foreach (var argument in new[] { "-u", Superuser, "--", program })
            {
                start.ArgumentList.Add(argument);
            }
        }
        else
        {
            start.FileName = program;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var commandLine = string.Join(' ', start.ArgumentList.Prepend(start.FileName));
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new PostgresClusterException($"Could not run '{commandLine}': {ex.Message}", ex);
        }

        // Read both streams to the end (pg_ctl's server child keeps neither open, so these end with pg_ctl).
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_commandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new PostgresClusterException($"'{commandLine}' did not finish within {s_commandTimeout.TotalSeconds} s.");
        }

        if (process.ExitCode != 0)
        {
            throw new PostgresClusterException(
                $"'{commandLine}' failed with exit code {process.ExitCode}: {(await error.ConfigureAwait(false)).Trim()} {(await output.ConfigureAwait(false)).Trim()}");
        }
    }

    // Environment.UserName reads the effective user on Unix.
    private static bool IsRoot() => !OperatingSystem.IsWindows() && Environment.UserName == "root";
}
