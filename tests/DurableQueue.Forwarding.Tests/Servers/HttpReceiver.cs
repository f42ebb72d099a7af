using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DurableQueue.Forwarding.Tests.Servers;

/// <summary>
/// The remote side of the HTTP tests: a real Kestrel server on 127.0.0.1 and a free port that records each request
/// (message id, device header, body) and answers 200, or what the test asks for.
/// </summary>
internal sealed class HttpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly List<Received> _requests = [];
    private readonly SemaphoreSlim _arrived = new(0);

    private HttpReceiver(WebApplication app) => _app = app;

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Decides the answer to a request body: a status code, or <see langword="null"/> for 200 (recorded as received).</summary>
    public Func<string, int?>? Answer { get; set; }

    public IReadOnlyList<Received> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _requests];
            }
        }
    }

    public static async Task<HttpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new HttpReceiver(app);
        app.MapPost("/ingest", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            if (receiver.Answer?.Invoke(body) is { } status)
            {
                context.Response.StatusCode = status;
                await context.Response.WriteAsync($"refused: {body}");
                return;
            }

            receiver.Record(new Received(
                context.Request.Headers["Message-Id"].ToString(),
                context.Request.Headers["X-Dq-device"].ToString(),
                context.Request.ContentType ?? "",
                body));
            context.Response.StatusCode = 200;
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Endpoint = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/ingest");
        return receiver;
    }

    public Task WaitUntilAsync(Func<IReadOnlyList<Received>, bool> condition, TimeSpan timeout, string what) =>
        Wait.ForSignalAsync(_arrived, () => condition(Requests), timeout, () => $"{what}; the receiver has {Requests.Count} request(s)");

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private void Record(Received received)
    {
        lock (_lock)
        {
            _requests.Add(received);
        }

        _arrived.Release();
    }

    public sealed record Received(string MessageId, string Key, string ContentType, string Body)
    {
        public long LocalId => long.Parse(MessageId.AsSpan(MessageId.LastIndexOf('-') + 1), CultureInfo.InvariantCulture);
    }
}
