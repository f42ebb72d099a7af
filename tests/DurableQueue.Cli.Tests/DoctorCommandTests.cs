using System.Text.Json;

namespace DurableQueue.Cli.Tests;

/// <summary>dq doctor as a process: its exit codes (0 healthy, 1 warnings, 7 errors, 3 bad file) and its JSON.</summary>
public sealed class DoctorCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<string> MakeStoreAsync(int megabytes = 0)
    {
        var path = _dir.File("app.db");
        await using var store = QueueStore.Open(path);
        var queue = store.GetQueue("q");
        await queue.EnqueueAsync("x");
        for (var i = 0; i < megabytes; i++)
        {
            await queue.EnqueueBatchAsync(Enumerable.Range(0, 16).Select(_ => (ReadOnlyMemory<byte>)new byte[64 * 1024]));
        }

        return path;
    }

    [Fact]
    public async Task Doctor_LocalFile_Exit0_AndJsonNamesTheFileSystem()
    {
        var path = await MakeStoreAsync();

        var text = await Dq.RunAsync("doctor", path, "--min-free", "0");
        Assert.True(text.ExitCode == 0, text.ToString());
        Assert.Contains("no warnings", text.Out);

        var json = await Dq.RunAsync("doctor", path, "--min-free", "0", "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = JsonDocument.Parse(json.Out);
        var root = doc.RootElement;
        Assert.Equal(Path.GetFullPath(path), root.GetProperty("path").GetString());
        Assert.True(root.GetProperty("healthy").GetBoolean());
        Assert.Equal("info", root.GetProperty("highestSeverity").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("fileSystem").GetString()));
        var finding = root.GetProperty("findings").EnumerateArray().First();
        foreach (var property in new[] { "code", "severity", "summary", "meaning", "advice" })
        {
            Assert.False(string.IsNullOrEmpty(finding.GetProperty(property).GetString()), property);
        }
    }

    [Fact]
    public async Task Doctor_StoreOpenWithDurabilityNormal_Exit1()
    {
        var path = await MakeStoreAsync();
        await using var app = QueueStore.Open(path, new QueueStoreOptions { Durability = Durability.Normal });

        var result = await Dq.RunAsync("doctor", path, "--min-free", "0");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("WARNING durability-normal:", result.Out);
        Assert.Contains($"process {Environment.ProcessId}", result.Out);
        Assert.Contains("0 error(s), 1 warning(s)", result.Out);
    }

    [Fact]
    public async Task Doctor_StoreOpenWithAQuotaBelowItsData_Exit7()
    {
        var path = await MakeStoreAsync(megabytes: 2);
        await using var app = QueueStore.Open(path, new QueueStoreOptions { MaxDatabaseBytes = 1024 * 1024 });

        var result = await Dq.RunAsync("doctor", path, "--min-free", "0", "--json");

        Assert.True(result.ExitCode == 7, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("error", doc.RootElement.GetProperty("highestSeverity").GetString());
        var first = doc.RootElement.GetProperty("findings")[0];
        Assert.Equal("database-quota-reached", first.GetProperty("code").GetString());
        Assert.Equal("error", first.GetProperty("severity").GetString());
    }

    [Fact]
    public async Task Doctor_ProbeFsync_ReportsTheFlushTime()
    {
        var path = await MakeStoreAsync();
        var result = await Dq.RunAsync("doctor", path, "--min-free", "0", "--probe-fsync", "--json");
        Assert.True(result.ExitCode is 0 or 1, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        var probe = Assert.Single(doc.RootElement.GetProperty("findings").EnumerateArray(), f => f.GetProperty("code").GetString() is "fsync-timing" or "fsync-too-fast");
        Assert.Contains("(median of 16;", probe.GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_BadInput_UsageAndFileErrors()
    {
        var missing = await Dq.RunAsync("doctor", _dir.File("missing.db"));
        Assert.Equal(3, missing.ExitCode);
        Assert.False(File.Exists(_dir.File("missing.db")));

        var path = await MakeStoreAsync();
        var badSize = await Dq.RunAsync("doctor", path, "--min-free", "lots");
        Assert.Equal(2, badSize.ExitCode);
        Assert.Contains("--min-free", badSize.Error + badSize.Out);
    }
}
