using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Cli.Tests;

/// <summary>Bad paths and bad arguments: one line on stderr, the documented exit code, and the file left alone.</summary>
public sealed class ErrorTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static void AssertOneLine(Dq.Result result, int exitCode, string contains)
    {
        Assert.True(result.ExitCode == exitCode, result.ToString());
        var line = Assert.Single(result.Error.Trim().Split('\n'));
        Assert.StartsWith("dq: ", line, StringComparison.Ordinal);
        Assert.Contains(contains, line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("stats")]
    [InlineData("verify")]
    [InlineData("compact")]
    [InlineData("watch")]
    public async Task MissingFile_Exit3_NotCreated(string command)
    {
        var path = _dir.File("missing.db");
        AssertOneLine(await Dq.RunAsync(command, path), 3, "does not exist");
        Assert.Empty(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public async Task MissingFile_ForQueueCommands_Exit3()
    {
        var path = _dir.File("missing.db");
        AssertOneLine(await Dq.RunAsync("peek", path, "q"), 3, "does not exist");
        AssertOneLine(await Dq.RunAsync("dead", "purge", path, "q", "--yes"), 3, "does not exist");
        AssertOneLine(await Dq.PipeAsync("{\"body\":\"x\"}", "import", path, "q"), 3, "--create");
        Assert.Empty(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public async Task Enqueue_FileLockedByAnotherWriter_SaysItWaitsThenExit5AfterTheBusyTimeout()
    {
        var path = _dir.File("locked.db");
        await using (var store = QueueStore.Open(path))
        {
            await store.GetQueue("q").EnqueueAsync("before");
        }

        using var holder = new SqliteConnection($"Data Source={path};Pooling=False");
        holder.Open();
        using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE;";
            begin.ExecuteNonQuery();
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await Dq.PipeAsync("x\n", "enqueue", path, "q", "--busy-timeout", "5s");
        var elapsed = watch.Elapsed;
        holder.Close();

        Assert.True(result.ExitCode == 5, result.ToString());
        var lines = result.Error.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains("waiting for the write lock", lines[0], StringComparison.Ordinal);
        Assert.Contains("5s", lines[0], StringComparison.Ordinal);
        Assert.Contains("stayed locked by another writer for 5", lines[1], StringComparison.Ordinal);
        // One wait of 5 s, not two (10 s or more); the margin is for starting the dq process on a busy machine.
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"dq took {elapsed.TotalSeconds:0.0} s with --busy-timeout 5s");
        await using var after = QueueStore.Open(path);
        Assert.Equal(1, (await after.GetQueue("q").GetCountsAsync()).Total);
    }

    [Fact]
    public async Task BusyTimeout_Invalid_Exit2()
    {
        var path = _dir.File("q.db");
        await using (var store = QueueStore.Open(path))
        {
            await store.GetQueue("q").EnqueueAsync("x");
        }

        var result = await Dq.RunAsync("stats", path, "--busy-timeout", "soon");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--busy-timeout", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SqliteFileWithoutQueueTables_Exit3_Unchanged()
    {
        var path = _dir.File("app.db");
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);";
            cmd.ExecuteNonQuery();
        }

        var hash = Hash(path);
        AssertOneLine(await Dq.RunAsync("stats", path), 3, "without DurableQueue tables");
        AssertOneLine(await Dq.PipeAsync("x\n", "enqueue", path, "q"), 3, "without DurableQueue tables");
        AssertOneLine(await Dq.RunAsync("compact", path), 3, "without DurableQueue tables");
        Assert.Equal(hash, Hash(path));
    }

    [Fact]
    public async Task NotSqlite_Exit3_Unchanged()
    {
        var path = _dir.File("readme.txt");
        await File.WriteAllTextAsync(path, string.Concat(Enumerable.Repeat("not a database ", 500)));
        var hash = Hash(path);
        AssertOneLine(await Dq.RunAsync("verify", path), 3, "not a SQLite database");
        AssertOneLine(await Dq.PipeAsync("x\n", "enqueue", path, "q", "--create"), 3, "not a SQLite database");
        Assert.Equal(hash, Hash(path));
    }

    [Fact]
    public async Task NewerSchema_Exit3_Unchanged()
    {
        var path = _dir.File("future.db");
        await using (var store = QueueStore.Open(path))
        {
            await store.GetQueue("q").EnqueueAsync("x");
        }

        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE dq_meta SET value = 42 WHERE key = 'schema_version';";
            cmd.ExecuteNonQuery();
        }

        var hash = Hash(path);
        AssertOneLine(await Dq.RunAsync("stats", path), 3, "schema version 42");
        AssertOneLine(await Dq.RunAsync("dead", "requeue", path, "q", "--all"), 3, "schema version 42");
        Assert.Equal(hash, Hash(path));
    }

    [Theory]
    [InlineData("stats")]
    [InlineData("verify")]
    [InlineData("compact")]
    [InlineData("watch")]
    public async Task FolderInsteadOfFile_Exit3(string command) =>
        AssertOneLine(await Dq.RunAsync(command, _dir.Path), 3, "is a folder");

    [Theory]
    [InlineData("unknown command", "frobnicate")]
    [InlineData("missing required argument", "peek")]
    [InlineData("must be between 1 and 1000", "peek", "{file}", "q", "-n", "0")]
    [InlineData("must be between 0 and 9", "enqueue", "{file}", "q", "--priority", "10")]
    [InlineData("not a duration", "enqueue", "{file}", "q", "--delay", "soon")]
    [InlineData("KEY=VALUE", "enqueue", "{file}", "q", "-H", "novalue")]
    [InlineData("not a valid queue name", "enqueue", "{file}", "bad name!")]
    [InlineData("--count must be at least 1", "watch", "{file}", "--count", "0")]
    [InlineData("unknown option", "stats", "{file}", "--frob")]
    public async Task BadArguments_Exit2(string contains, params string[] args)
    {
        var path = _dir.File("ok.db");
        await using (var store = QueueStore.Open(path))
        {
            await store.GetQueue("q").EnqueueAsync("x");
        }

        AssertOneLine(await Dq.PipeAsync("", args.Select(a => a.Replace("{file}", path, StringComparison.Ordinal)).ToArray()), 2, contains);
    }

    [Fact]
    public async Task UnknownQueue_Exit6()
    {
        var path = _dir.File("ok.db");
        await using (var store = QueueStore.Open(path))
        {
            await store.GetQueue("q").EnqueueAsync("x");
        }

        AssertOneLine(await Dq.RunAsync("peek", path, "nosuch"), 6, "does not exist");
        AssertOneLine(await Dq.RunAsync("dead", "list", path, "nosuch"), 6, "does not exist");
    }

    [Fact]
    public async Task Help_Exit0()
    {
        var result = await Dq.RunAsync("--help");
        Assert.Equal(0, result.ExitCode);
        foreach (var command in new[] { "stats", "peek", "dead", "purge", "delete", "move", "enqueue", "export", "import", "verify", "compact", "watch" })
        {
            Assert.Contains(command, result.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Version_PrintsTheToolVersion_Exit0()
    {
        var result = await Dq.RunAsync("--version");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+", result.Out.Trim());
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}
