using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace DurableQueue.HttpIngest.Tests;

/// <summary>Starts the sample as its own process on a free loopback port and talks HTTP to it.</summary>
public sealed class HttpIngestTests
{
    [Fact]
    public async Task Post_QueueFull_Answers202ThenServiceUnavailableWithRetryAfter()
    {
        await using var app = await IngestApp.StartAsync("--Capacity", "2", "--Consumer", "false");

        using var first = await app.Http.PostAsync("/jobs", new StringContent("one"));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.NotNull(first.Headers.Location);
        Assert.Matches("^/jobs/[0-9]+$", first.Headers.Location!.OriginalString);
        using var second = await app.Http.PostAsync("/jobs", new StringContent("two"));
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);

        using var third = await app.Http.PostAsync("/jobs", new StringContent("three"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, third.StatusCode);
        var retryAfter = third.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));

        Assert.Equal("ready", await app.StateAsync(first.Headers.Location));
        var stats = await app.Http.GetFromJsonAsync<JsonElement>("/stats");
        Assert.Equal(2, stats.GetProperty("messages").GetInt64());
        Assert.Equal(1, stats.GetProperty("rejected").GetInt64());
    }

    [Fact]
    public async Task Get_JobLifecycle_ReportsDoneAndDeadLettered()
    {
        await using var app = await IngestApp.StartAsync("--Capacity", "10", "--WorkMs", "0");

        using var ok = await app.Http.PostAsync("/jobs", new StringContent("fine"));
        using var poison = await app.Http.PostAsync("/jobs", new StringContent("poison"));
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, poison.StatusCode);

        Assert.Equal("done", await app.WaitForStateAsync(ok.Headers.Location!, "done"));
        Assert.Equal("dead-lettered", await app.WaitForStateAsync(poison.Headers.Location!, "dead-lettered"));
    }

    [Fact]
    public async Task Get_UnknownId_Answers404_MalformedId_Answers400()
    {
        await using var app = await IngestApp.StartAsync("--Capacity", "10", "--WorkMs", "0");
        using var accepted = await app.Http.PostAsync("/jobs", new StringContent("fine"));
        Assert.Equal("done", await app.WaitForStateAsync(accepted.Headers.Location!, "done"));

        foreach (var unknown in new[] { "/jobs/999999", "/jobs/2" })
        {
            using var response = await app.Http.GetAsync(unknown);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{unknown}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        foreach (var malformed in new[] { "/jobs/-5", "/jobs/0", "/jobs/abc", "/jobs/1.5" })
        {
            using var response = await app.Http.GetAsync(malformed);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{malformed}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Fact]
    public async Task Post_QueueFullRightAfterStart_RetryAfterIsTheDefaultNotTheCeiling()
    {
        await using var app = await IngestApp.StartAsync("--Capacity", "1", "--Consumer", "false");
        using var first = await app.Http.PostAsync("/jobs", new StringContent("one"));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);

        // Rejections spread over more than a second give the queue several samples of its drain counter, none of
        // which saw a message leave (no consumer runs): there is no rate to estimate from.
        var hints = new List<TimeSpan?>();
        var elapsed = Stopwatch.StartNew();
        while (elapsed.Elapsed < TimeSpan.FromSeconds(1.5) || hints.Count < 5)
        {
            using var rejected = await app.Http.PostAsync("/jobs", new StringContent("more"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, rejected.StatusCode);
            hints.Add(rejected.Headers.RetryAfter?.Delta);
            await Task.Delay(100);
        }

        Assert.All(hints, h => Assert.Equal(TimeSpan.FromSeconds(1), h));
    }

    private sealed class IngestApp : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _db;

        private IngestApp(Process process, string db, HttpClient http)
        {
            _process = process;
            _db = db;
            Http = http;
        }

        public HttpClient Http { get; }

        public static async Task<IngestApp> StartAsync(params string[] args)
        {
            var port = FreePort();
            var db = Path.Combine(Path.GetTempPath(), $"dq-ingest-{Guid.NewGuid():N}.db");
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "HttpIngest.dll"));
            foreach (var arg in new[] { "--Port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--Db", db }.Concat(args))
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start)!;
            var output = new StringBuilder();
            process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var app = new IngestApp(process, db, http);

            var deadline = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using var response = await http.GetAsync("/stats");
                    if (response.IsSuccessStatusCode)
                    {
                        return app;
                    }
                }
                catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(30) && !process.HasExited)
                {
                    await Task.Delay(100);
                    continue;
                }
                catch (HttpRequestException)
                {
                    await app.DisposeAsync();
                    lock (output)
                    {
                        throw new InvalidOperationException($"The sample did not start:\n{output}");
                    }
                }
            }
        }

        public async Task<string> StateAsync(Uri location)
        {
            var body = await Http.GetFromJsonAsync<JsonElement>(location);
            return body.GetProperty("state").GetString()!;
        }

        public async Task<string> WaitForStateAsync(Uri location, string expected)
        {
            var deadline = Stopwatch.StartNew();
            string state;
            while ((state = await StateAsync(location)) != expected && deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(50);
            }

            return state;
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
            foreach (var suffix in new[] { "", "-wal", "-shm" })
            {
                File.Delete(_db + suffix);
            }
        }
    }
}
