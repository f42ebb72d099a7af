using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace DurableQueue.Forwarding.Diagnostics;

/// <summary>
/// The forwarders' instruments on the library's <see cref="Meter"/> named <c>DurableQueue</c> (from
/// <see cref="IMeterFactory"/> when there is one). One instance per meter factory serves every forwarder of a host.
/// </summary>
internal sealed class ForwardingTelemetry
{
    public const string MeterName = "DurableQueue";
    public const string ForwardedName = "durablequeue.forwarder.messages.forwarded";
    public const string DeadLetteredName = "durablequeue.forwarder.messages.dead_lettered";
    public const string RetriesName = "durablequeue.forwarder.send.retries";
    public const string SendDurationName = "durablequeue.forwarder.send.duration";
    public const string LagName = "durablequeue.forwarder.lag";
    public const string LinkUpName = "durablequeue.forwarder.link.up";
    public const string InFlightName = "durablequeue.forwarder.in_flight";

    public const string ForwarderTag = "durablequeue.forwarder.name";
    public const string DestinationTag = "messaging.destination.name";
    public const string SystemTag = "messaging.system";
    public const string ErrorTypeTag = "error.type";
    public const string System = "durablequeue";

    private static readonly ConditionalWeakTable<IMeterFactory, ForwardingTelemetry> s_byFactory = new();
    private static readonly Lazy<ForwardingTelemetry> s_static = new(() => new ForwardingTelemetry(null));

    private static readonly InstrumentAdvice<double> s_durationAdvice = new()
    {
        HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    };

    private readonly ConcurrentDictionary<Forwarder, byte> _forwarders = new();

    private ForwardingTelemetry(IMeterFactory? factory)
    {
        var options = new MeterOptions(MeterName) { Version = GetVersion() };
        var meter = factory?.Create(options) ?? new Meter(options);
        Forwarded = meter.CreateCounter<long>(ForwardedName, "{message}", "Messages the remote confirmed, acked locally.");
        DeadLettered = meter.CreateCounter<long>(DeadLetteredName, "{message}", "Messages the remote refused for good, dead-lettered locally.");
        Retries = meter.CreateCounter<long>(RetriesName, "{send}", "Sends that failed in a way a retry can fix.");
        SendDuration = meter.CreateHistogram(SendDurationName, "s", "Duration of one batch send, until every message has its outcome.", tags: null, s_durationAdvice);
        meter.CreateObservableGauge(LagName, () => Observe(f => f.GetStatus().Lag.TotalSeconds), "s", "Age of the oldest message not yet forwarded.");
        meter.CreateObservableGauge(LinkUpName, () => Observe(f => f.GetStatus().Link == LinkState.Down ? 0L : 1L), "{link}", "1 while the link is up or unknown, 0 while it is down.");
        meter.CreateObservableUpDownCounter(InFlightName, () => Observe(f => (long)f.GetStatus().InFlight), "{message}", "Messages held by the forwarder, not yet acked locally.");
    }

    public Counter<long> Forwarded { get; }

    public Counter<long> DeadLettered { get; }

    public Counter<long> Retries { get; }

    public Histogram<double> SendDuration { get; }

    public static ForwardingTelemetry For(IMeterFactory? factory) =>
        factory is null ? s_static.Value : s_byFactory.GetValue(factory, static f => new ForwardingTelemetry(f));

    public void Attach(Forwarder forwarder) => _forwarders.TryAdd(forwarder, 0);

    public void Detach(Forwarder forwarder) => _forwarders.TryRemove(forwarder, out _);

    public KeyValuePair<string, object?>[] TagsOf(Forwarder forwarder) =>
    [
        new(SystemTag, System),
        new(ForwarderTag, forwarder.Name),
        new(DestinationTag, forwarder.QueueName),
    ];

    private IEnumerable<Measurement<T>> Observe<T>(Func<Forwarder, T> value)
        where T : struct
    {
        foreach (var forwarder in _forwarders.Keys)
        {
            yield return new Measurement<T>(value(forwarder), TagsOf(forwarder));
        }
    }

    private static string GetVersion()
    {
        var version = typeof(ForwardingTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }
}
