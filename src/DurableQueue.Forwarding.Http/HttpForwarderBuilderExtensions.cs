using DurableQueue.Forwarding.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace DurableQueue.Forwarding;

/// <summary>Adds the HTTP sink to a forwarder registration.</summary>
public static class HttpForwarderBuilderExtensions
{
    /// <summary>
    /// Forwards to an HTTP endpoint, one request per message, through a named client of HttpClientFactory with the
    /// standard resilience handler (retries with jitter, timeouts, circuit breaker): a message is acked locally after a
    /// 2xx answer, dead-lettered after a final 4xx, and retried later after anything else.
    /// </summary>
    /// <param name="builder">The forwarder builder.</param>
    /// <param name="endpoint">The absolute URL the messages are sent to.</param>
    /// <param name="configure">Sets the other sink options, or <see langword="null"/>.</param>
    /// <param name="resilience">Adjusts the standard resilience handler's options, or <see langword="null"/> for its defaults.</param>
    /// <returns>The forwarder builder.</returns>
    /// <exception cref="ArgumentException">An option is invalid (checked at registration).</exception>
    public static ForwarderBuilder ToHttp(
        this ForwarderBuilder builder, Uri endpoint, Action<HttpSinkOptions>? configure = null, Action<HttpStandardResilienceOptions>? resilience = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(endpoint);
        var options = new HttpSinkOptions { Endpoint = endpoint };
        configure?.Invoke(options);
        options.Validate();
        var clientName = "DurableQueue.Forwarding." + builder.QueueName;
        var client = builder.Services.AddHttpClient(clientName);
        if (resilience is null)
        {
            client.AddStandardResilienceHandler();
        }
        else
        {
            client.AddStandardResilienceHandler(resilience);
        }

        return builder.ToSink(sp => new HttpSink(sp.GetRequiredService<IHttpClientFactory>().CreateClient(clientName), options));
    }
}
