using System.Text.Json;

namespace DurableQueue.Cli.Tests;

/// <summary>verify is the command for damaged files: it reports what SQLite's check finds (exit 1); compact leaves them alone (exit 3).</summary>
public sealed class DamagedFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Verify_DamagedFile_ReportsIntegrityCheckFindings_Exit1_FileUntouched()
    {
        var path = await ExitCodeTests.DamagedStoreAsync(_dir);
        var hash = ExitCodeTests.StoreFileHash(path);

        var table = await Dq.RunAsync("verify", path);
        Assert.True(table.ExitCode == 1, table.ToString());
        Assert.Equal("", table.Error);
        Assert.Contains("integrity_check", table.Out, StringComparison.Ordinal);
        // SQLite's own finding: the table whose page is damaged (the others check out).
        Assert.Contains("dq_messages: SQLite Error 11: 'database disk image is malformed'", table.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("dq_meta:", table.Out, StringComparison.Ordinal);
        Assert.Contains("queue checks", table.Out, StringComparison.Ordinal);

        var json = await Dq.RunAsync("verify", path, "--json");
        Assert.True(json.ExitCode == 1, json.ToString());
        using var doc = JsonDocument.Parse(json.Out);
        Assert.False(doc.RootElement.GetProperty("healthy").GetBoolean());
        Assert.StartsWith("dq_messages: ", doc.RootElement.GetProperty("integrityCheck")[0].GetString(), StringComparison.Ordinal);

        Assert.Equal(hash, ExitCodeTests.StoreFileHash(path));
    }
}
