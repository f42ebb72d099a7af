using DurableQueue.Forwarding;
using DurableQueue.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds store-and-forward to a DurableQueue registration, and the forwarders' health check.</summary>
public static class ForwardingServiceCollectionExtensions
{
    /// <summary>
    /// Registers a forwarder of a queue as a hosted service: it hands the queue's messages to the sink set by
    /// <paramref name="configure"/> (for example <c>f =&gt; f.ToMqtt(...)</c>) and acks each locally once the remote
    /// confirmed it. Options are bound from <c>DurableQueue:Forwarders:{queueName}</c> and validated at start.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddDurableQueue</c>.</param>
    /// <param name="queueName">The queue to forward; it must have no other consumer.</param>
    /// <param name="configure">Sets the sink and the options.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="InvalidOperationException"><paramref name="configure"/> set no sink, or the queue has a forwarder already.</exception>
    public static DurableQueueBuilder AddForwarder(this DurableQueueBuilder builder, string queueName, Action<ForwarderBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(queueName);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(ForwarderMarker) && Equals(d.ServiceKey, queueName)))
        {
            throw new InvalidOperationException($"Queue '{queueName}' has a forwarder already; a queue has one forwarder.");
        }

        var forwarder = new ForwarderBuilder(services, queueName);
        services.AddOptions<ForwarderOptions>(queueName).BindConfiguration($"DurableQueue:Forwarders:{queueName}");
        configure(forwarder);
        var sinkFactory = forwarder.SinkFactory
            ?? throw new InvalidOperationException($"The forwarder of queue '{queueName}' has no sink: call ToMqtt, ToRabbitMq, ToHttp or ToSink.");

        services.AddOptions<ForwarderOptions>(queueName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ForwarderOptions>, ForwarderOptionsValidator>());
        services.TryAddSingleton<ForwarderRegistry>();
        services.TryAddSingleton<IForwarderStatusSource>(static sp => sp.GetRequiredService<ForwarderRegistry>());
        services.AddKeyedSingleton<ForwarderMarker>(queueName);
        services.AddSingleton<IHostedService>(sp => new ForwarderService(queueName, sinkFactory, sp));
        return builder;
    }

    /// <summary>Adds a health check that reports degraded while a forwarder's link is down past its threshold.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="tags">Tags to filter checks by, or <see langword="null"/>.</param>
    /// <returns>The health checks builder.</returns>
    public static IHealthChecksBuilder AddDurableQueueForwarders(this IHealthChecksBuilder builder, string name = "durablequeue-forwarders", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<ForwarderRegistry>();
        return builder.Add(new Diagnostics.HealthChecks.HealthCheckRegistration(
            name, static sp => new ForwarderHealthCheck(sp.GetRequiredService<ForwarderRegistry>()), failureStatus: null, tags));
    }

    /// <summary>Marks a queue as forwarded, so that a second forwarder for it is refused.</summary>
    private sealed class ForwarderMarker;

    /// <summary>Validates forwarder options at start, with the same checks as the forwarder's constructor.</summary>
    private sealed class ForwarderOptionsValidator : IValidateOptions<ForwarderOptions>
    {
        public ValidateOptionsResult Validate(string? name, ForwarderOptions options)
        {
            try
            {
                options.Validate();
                return ValidateOptionsResult.Success;
            }
            catch (ArgumentException ex)
            {
                return ValidateOptionsResult.Fail($"Forwarder '{name}': {ex.Message}");
            }
        }
    }
}
