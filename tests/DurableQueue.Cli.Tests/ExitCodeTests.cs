using System.Reflection;
using System.Text.RegularExpressions;
using DurableQueue.Cli.Infrastructure;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Cli.Tests;

/// <summary>One test per row of the exit-code table in docs/cli.md, and a test that the table and the code list the same codes.</summary>
public sealed class ExitCodeTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<string> StoreAsync(int messages = 1, int deadLetters = 0)
    {
        var path = _dir.File("app.db");
        await using var store = QueueStore.Open(path);
        var queue = store.GetQueue("q", new QueueOptions { MaxAttempts = 1 });
        for (var i = 0; i < deadLetters; i++)
        {
            await queue.EnqueueAsync($"dead {i}");
            await queue.NackAsync(Assert.Single(await queue.ReceiveAsync()), TimeSpan.Zero, "failed");
        }

        for (var i = 0; i < messages; i++)
        {
            await queue.EnqueueAsync($"message {i}");
        }

        return path;
    }

    [Fact]
    public void Table_ListsExactlyTheCodesOfTheTool()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "cli.md"));
        var section = doc[doc.IndexOf("## Exit codes", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 3, StringComparison.Ordinal)];
        var documented = Regex.Matches(section, @"^\| (\d+) \|", RegexOptions.Multiline).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        var defined = typeof(ExitCodes).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (int)f.GetRawConstantValue()!);

        Assert.Equal(defined.Order(), documented.Order());
    }

    [Fact]
    public async Task CliDoc_ExampleSession_ShowsTheCurrentSchemaVersion()
    {
        var path = await StoreAsync();
        using var inspector = QueueStore.Inspect(path);
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "cli.md"));

        Assert.Matches($@"Schema version +{inspector.SchemaVersion} ", doc);
    }

    [Fact]
    public async Task Exit0_Success_WatchStoppedWithCtrlC_PurgeAnsweredNo()
    {
        var path = await StoreAsync(messages: 1, deadLetters: 1);
        Assert.Equal(0, (await Dq.RunAsync("stats", path)).ExitCode);

        await using (var watch = DqProcess.Start("watch", path, "--json"))
        {
            await watch.WaitForOutputAsync("\"queues\"");
            watch.Interrupt();
            Assert.True(await watch.WaitForExitAsync() == 0, watch.Error);
        }

        await using (var purge = DqProcess.StartInTerminal("dead", "purge", path, "q"))
        {
            await purge.WaitForOutputAsync("for good?");
            await purge.Input.WriteAsync("n\r");
            await purge.Input.FlushAsync();
            Assert.True(await purge.WaitForExitAsync() == 0, purge.Out + purge.Error);
            Assert.Contains("nothing deleted", purge.Out, StringComparison.Ordinal);
        }

        using var inspector = QueueStore.Inspect(path);
        Assert.Equal(1, (await inspector.GetCountsAsync("q")).DeadLettered);
    }

    [Fact]
    public async Task Exit1_VerifyFoundProblems()
    {
        var path = await StoreAsync();
        Execute(path, "UPDATE dq_messages SET attempts = max_attempts;");

        var result = await Dq.RunAsync("verify", path);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("spent-but-not-dead-lettered", result.Out, StringComparison.Ordinal);
        Assert.Contains("FAILED", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exit2_BadArgumentsOrOptions()
    {
        var path = await StoreAsync(deadLetters: 1);
        var existing = _dir.File("exists.jsonl");
        await File.WriteAllTextAsync(existing, "");

        foreach (var (args, expected) in new (string[] Args, string Expected)[]
        {
            (["frobnicate"], "unknown command"),
            (["peek", path], "missing required argument"),
            (["peek", path, "q", "-n", "0"], "--count must be between 1 and 1000"),
            (["peek", path, "q", "-n", "abc"], "-n: 'abc' is not a whole number"),
            (["stats", path, "--frob"], "unknown option"),
            (["enqueue", path, "bad name!"], "not a valid queue name"),
            (["dead", "purge", path, "q"], "refusing to delete 1 dead letter without confirmation"),
            (["export", path, "q", "-o", existing], "exists already"),
            (["enqueue", path, "q", "--file", _dir.Path], "is a folder"),
        })
        {
            var result = await Dq.PipeAsync("", args);
            Assert.True(result.ExitCode == 2, $"{string.Join(' ', args)}: {result}");
            var line = Assert.Single(result.Error.Trim().Split('\n'));
            Assert.StartsWith("dq: ", line, StringComparison.Ordinal);
            Assert.Contains(expected, line, StringComparison.OrdinalIgnoreCase);
        }

        // No command at all: the help is printed, and it is a usage error.
        foreach (var args in new[] { Array.Empty<string>(), ["dead"] })
        {
            var help = await Dq.RunAsync(args);
            Assert.True(help.ExitCode == 2, $"dq {string.Join(' ', args)}: {help}");
            Assert.Contains("USAGE", help.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Exit3_BadFile_FolderMissingDamaged_LeftUntouched()
    {
        var folder = await Dq.RunAsync("stats", _dir.Path);
        Assert.True(folder.ExitCode == 3, folder.ToString());
        Assert.Contains("is a folder", folder.Error, StringComparison.Ordinal);
        Assert.Equal(3, (await Dq.PipeAsync("x", "enqueue", _dir.Path, "q", "--create")).ExitCode);

        Assert.Equal(3, (await Dq.RunAsync("peek", _dir.File("missing.db"), "q")).ExitCode);

        var damaged = await DamagedStoreAsync(_dir);
        var hash = StoreFileHash(damaged);
        var compact = await Dq.RunAsync("compact", damaged);
        Assert.True(compact.ExitCode == 3, compact.ToString());
        Assert.Contains("is damaged", compact.Error, StringComparison.Ordinal);
        Assert.Equal(3, (await Dq.RunAsync("stats", damaged)).ExitCode);
        Assert.Equal(hash, StoreFileHash(damaged));
    }

    [Fact]
    public async Task Exit4_InputThatCannotBeEnqueued()
    {
        var path = await StoreAsync();

        var result = await Dq.PipeAsync("{\"body\":\"ok\"}\nnot json\n", "import", path, "q");

        Assert.True(result.ExitCode == 4, result.ToString());
        Assert.Contains("line 2", result.Error, StringComparison.Ordinal);
        using var inspector = QueueStore.Inspect(path);
        Assert.Equal(1, (await inspector.GetCountsAsync("q")).Total); // the failing batch was not enqueued
    }

    [Fact]
    public async Task Exit5_StorageError()
    {
        var path = await StoreAsync();
        // The app shares the file: one of its triggers calls a function this process does not have, so every insert
        // into the queue fails inside SQLite.
        Execute(path, "CREATE TRIGGER app_audit AFTER INSERT ON dq_messages BEGIN SELECT app_audit_function(NEW.id); END;");

        var result = await Dq.PipeAsync("x\n", "enqueue", path, "q");

        Assert.True(result.ExitCode == 5, result.ToString());
        Assert.Contains("SQLite error", result.Error, StringComparison.Ordinal);
        Assert.Contains("app_audit_function", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exit6_QueueOrIdNotFound()
    {
        var path = await StoreAsync();

        Assert.Equal(6, (await Dq.RunAsync("peek", path, "nosuch")).ExitCode);
        Assert.Equal(6, (await Dq.RunAsync("dead", "show", path, "q", "999")).ExitCode);
        Assert.Equal(6, (await Dq.RunAsync("delete", path, "q", "999", "--yes")).ExitCode);
    }

    [Fact]
    public void Exit10_UnexpectedError_IsReportedAsABug()
    {
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            code = Errors.Report(new InvalidOperationException("a broken invariant"), cancelled: false);
        }
        finally
        {
            Console.SetError(original);
        }

        Assert.Equal(10, code);
        Assert.Contains("dq: unexpected error: InvalidOperationException: a broken invariant", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("DQ_DEBUG=1", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exit130_CancelledWithCtrlC()
    {
        var path = await StoreAsync(messages: 0);
        await using var import = DqProcess.Start("import", path, "q");
        await import.Input.WriteLineAsync("{\"body\":\"not enqueued: its batch never completes\"}");
        await import.Input.FlushAsync();
        await import.WaitUntilFileOpenAsync(path);

        import.Interrupt();

        Assert.True(await import.WaitForExitAsync() == 130, import.Error);
        Assert.Equal("dq: cancelled", import.Error.Trim());
        using var inspector = QueueStore.Inspect(path);
        Assert.Equal(0, (await inspector.GetCountsAsync("q")).Total);
    }

    /// <summary>A store whose dq_messages root page is overwritten: it opens, but its messages cannot be read.</summary>
    internal static async Task<string> DamagedStoreAsync(TempDir dir)
    {
        var path = dir.File("damaged.db");
        await using (var store = QueueStore.Open(path))
        {
            await store.GetQueue("q").EnqueueBatchAsync(Enumerable.Range(0, 300).Select(i => (ReadOnlyMemory<byte>)new byte[100]));
        }

        SqliteConnection.ClearAllPools();
        long rootPage;
        using (var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT rootpage FROM sqlite_master WHERE name = 'dq_messages';";
            rootPage = (long)cmd.ExecuteScalar()!;
        }

        using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.Position = (rootPage - 1) * 4096;
            var garbage = new byte[4096];
            new Random(7).NextBytes(garbage);
            stream.Write(garbage);
        }

        return path;
    }

    internal static string StoreFileHash(string path) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));

    private static void Execute(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    internal static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "DurableQueue.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("The repository root (DurableQueue.sln) was not found above the test binaries.");
    }
}
