using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;

namespace DurableQueue.Docs.Tests;

/// <summary>
/// Runs every sample with the command the README and the docs give, from the repository root, as a reader would type it.
/// The only changes: the temp folder (TMPDIR) and the sample's database go to a folder of the test, and a port the docs
/// name (5080) or the sample's configured address becomes a free loopback port.
/// </summary>
[Collection(nameof(SampleCommandTests))] // one `dotnet run` at a time: they build the same projects
public sealed class SampleCommandTests : IDisposable
{
    /// <summary>Generous: the first `dotnet run` of a sample may build it on a busy machine.</summary>
    private static readonly TimeSpan s_guard = TimeSpan.FromMinutes(4);

    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dq-samples-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _temp.Delete(recursive: true);
    }

    [Fact]
    public void EverySample_HasARunCommandInTheDocs()
    {
        var samples = Directory.GetDirectories(Path.Combine(Repository.Root, "samples"))
            .Where(d => Directory.GetFiles(d, "*.csproj").Length > 0)
            .Select(d => new DirectoryInfo(d).Name)
            .Order(StringComparer.Ordinal)
            .ToArray();
        var documented = Repository.SampleCommands().Select(c => c.Sample).Distinct().Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(["EdgeGateway", "HttpIngest", "QuickStart", "WorkerService"], samples);
        Assert.Equal(samples, documented);
    }

    [Fact]
    public async Task QuickStart_RunTwiceFromTheRoot_SecondRunRecoversTheFirst()
    {
        var command = Assert.Single(Repository.SampleCommands(), c => c.Sample == "QuickStart");
        var environment = new Dictionary<string, string> { ["TMPDIR"] = _temp.FullName };

        await using (var first = CommandProcess.Start(command.Text, environment))
        {
            Assert.True(await first.WaitForExitAsync(s_guard) == 0, $"{command}\n{first.Output}");
            Assert.Contains("Enqueued message", first.Output, StringComparison.Ordinal);
            Assert.Contains("Run it again", first.Output, StringComparison.Ordinal);
        }

        Assert.True(File.Exists(Path.Combine(_temp.FullName, "durablequeue-quickstart.db")), "the quick start did not use the temp folder");
        await using (var second = CommandProcess.Start(command.Text, environment))
        {
            Assert.True(await second.WaitForExitAsync(s_guard) == 0, $"{command}\n{second.Output}");
            Assert.Contains("Recovered: every message of the last run was processed", second.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task EdgeGateway_RunFromTheRoot_RecordsForwardsAndStopsByItself()
    {
        var command = Assert.Single(Repository.SampleCommands(), c => c.Sample == "EdgeGateway");
        var environment = new Dictionary<string, string> { ["TMPDIR"] = _temp.FullName };
        await using var run = CommandProcess.Start(command.Text, environment);
        Assert.True(await run.WaitForExitAsync(s_guard) == 0, $"{command}\n{run.Output}");
        Assert.Contains("recorded", run.Output, StringComparison.Ordinal);
        Assert.Contains("Stopped.", run.Output, StringComparison.Ordinal);
        Assert.Contains("Started a private mosquitto", run.Output, StringComparison.Ordinal);
        // The broker the sample started (its config lives under this test's temp folder) went with it.
        Assert.Empty(ProcessesMentioning(_temp.FullName));
    }

    /// <summary>The command lines of running processes that contain <paramref name="text"/> (from /proc).</summary>
    private static List<string> ProcessesMentioning(string text)
    {
        var found = new List<string>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out _))
            {
                continue;
            }

            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains(text, StringComparison.Ordinal))
                {
                    found.Add(commandLine);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process ended meanwhile, or is not ours to read.
            }
        }

        return found;
    }

    [Fact]
    public async Task WorkerService_RunFromTheRoot_HandlesMessagesServesHealthAndStopsOnCtrlC()
    {
        var command = Assert.Single(Repository.SampleCommands(), c => c.Sample == "WorkerService");
        var port = FreePort();
        var db = Path.Combine(_temp.FullName, "worker.db");
        var environment = new Dictionary<string, string>
        {
            ["TMPDIR"] = _temp.FullName,
            ["DurableQueue__Path"] = db,
            ["Urls"] = $"http://127.0.0.1:{port}",
        };

        await using var app = CommandProcess.Start(command.Text, environment);
        // "of 3": the emails queue's MaxAttempts from the sample's appsettings.json (the default is 5), so the settings
        // were found although the working directory is the repository root.
        await app.WaitForLineAsync(@"Sent email #\d+ to \S+ \(attempt \d+ of 3\)", s_guard);
        await app.WaitForLineAsync("Now listening on: http://127.0.0.1:" + port, TimeSpan.FromSeconds(30));

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        using var health = await http.GetAsync("/health");
        var body = await health.Content.ReadAsStringAsync();
        Assert.True(health.StatusCode == HttpStatusCode.OK, body);
        Assert.Contains("\"durablequeue\"", body, StringComparison.Ordinal);
        Assert.Contains("emails.ready", body, StringComparison.Ordinal);

        app.Interrupt();
        Assert.True(await app.WaitForExitAsync(TimeSpan.FromMinutes(1)) == 0, app.Output);
        Assert.Contains("Worker for queue 'emails' stopped.", app.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(db), "the sample did not use the configured database");
    }

    [Fact]
    public async Task HttpIngest_ServerAndClientFromTheRoot_AcceptEveryJob()
    {
        var commands = Repository.SampleCommands().Where(c => c.Sample == "HttpIngest").ToArray();
        var server = Assert.Single(commands, c => !c.Text.Contains("--client", StringComparison.Ordinal));
        var client = Assert.Single(commands, c => c.Text.Contains("--client", StringComparison.Ordinal));
        Assert.Contains("5080", server.Text, StringComparison.Ordinal);
        Assert.Contains("5080", client.Text, StringComparison.Ordinal);
        var port = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var environment = new Dictionary<string, string> { ["TMPDIR"] = _temp.FullName };

        await using var app = CommandProcess.Start(server.Text.Replace("5080", port, StringComparison.Ordinal), environment);
        await app.WaitForLineAsync("Now listening on: http://127.0.0.1:" + port, s_guard);

        await using (var producer = CommandProcess.Start(client.Text.Replace("5080", port, StringComparison.Ordinal), environment))
        {
            Assert.True(await producer.WaitForExitAsync(s_guard) == 0, $"{client}\n{producer.Output}");
            Assert.Matches(@"\d+ jobs accepted after \d+ retries of 503", producer.Output);
        }

        app.Interrupt();
        Assert.True(await app.WaitForExitAsync(TimeSpan.FromMinutes(1)) == 0, app.Output);
        Assert.True(File.Exists(Path.Combine(_temp.FullName, "httpingest.db")), "the sample did not use the temp folder");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
