using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace DurableQueue.Hosting.Diagnostics;

/// <summary>
/// The library's <see cref="Meter"/> and <see cref="ActivitySource"/>, both named <c>DurableQueue</c>. The meter comes
/// from <see cref="IMeterFactory"/> when the container has one, so that each host's metrics stay apart.
/// </summary>
internal sealed class HostingTelemetry : IDisposable
{
    private static readonly string s_version = GetVersion();

    public static readonly ActivitySource ActivitySource = new(TelemetryNames.SourceName, s_version);

    // Bucket advice of the messaging conventions for duration histograms, in seconds.
    private static readonly InstrumentAdvice<double> s_durationAdvice = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    };

    // Waits last up to the receive wait (30 s) when a queue is idle.
    private static readonly InstrumentAdvice<double> s_waitAdvice = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30],
    };

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private volatile IReadOnlyList<QueueSnapshot> _snapshot = [];

    public HostingTelemetry(IMeterFactory? meterFactory)
    {
        var options = new MeterOptions(TelemetryNames.SourceName) { Version = s_version };
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(options) ?? new Meter(options);
        SentMessages = _meter.CreateCounter<long>(TelemetryNames.SentMessages, "{message}", "Messages enqueued by producers, job submissions and schedules.");
        ConsumedMessages = _meter.CreateCounter<long>(TelemetryNames.ConsumedMessages, "{message}", "Messages received by workers.");
        OperationDuration = _meter.CreateHistogram(
            TelemetryNames.OperationDuration, "s", "Duration of queue operations (send, receive, settle, extend).", tags: null, s_durationAdvice);
        ProcessDuration = _meter.CreateHistogram(
            TelemetryNames.ProcessDuration, "s", "Duration of handler runs.", tags: null, s_durationAdvice);
        DeadLettered = _meter.CreateCounter<long>(TelemetryNames.DeadLetteredMessages, "{message}", "Messages a worker moved to the dead-letter store.");
        Retried = _meter.CreateCounter<long>(TelemetryNames.RetriedMessages, "{message}", "Failed attempts given back for a retry.");
        StoreStarts = _meter.CreateCounter<long>(TelemetryNames.StoreStarts, "{start}", "Store opens, by how the previous use of the file ended (clean, unclean, new)."); // recovery report
        RecoveredLeases = _meter.CreateCounter<long>(TelemetryNames.RecoveredLeases, "{lease}", "Leases left by processes that ended without closing the store, found at start."); // recovery report
        ReceiveWait = _meter.CreateHistogram(
            TelemetryNames.ReceiveWaitDuration, "s", "Time a worker waited for a message to arrive in an empty queue (not part of the receive operation).", tags: null, s_waitAdvice);
        _meter.CreateObservableUpDownCounter(TelemetryNames.Messages, ObserveMessages, "{message}", "Messages in each queue by state.");
        _meter.CreateObservableGauge(TelemetryNames.OldestMessageAge, ObserveOldestAge, "s", "Age of the oldest ready message of each queue, since its enqueue.");
    }

    public Counter<long> SentMessages { get; }

    public Counter<long> ConsumedMessages { get; }

    public Histogram<double> OperationDuration { get; }

    public Histogram<double> ProcessDuration { get; }

    public Counter<long> DeadLettered { get; }

    public Counter<long> Retried { get; }

    public Counter<long> StoreStarts { get; }

    public Counter<long> RecoveredLeases { get; }

    /// <summary>Counts a store open by how the previous use ended, and the leases an unclean end left.</summary>
    public void RecordStart(RecoveryReport report)
    {
        var end = report.IsNewFile ? "new" : report.IsClean ? "clean" : "unclean";
        StoreStarts.Add(1, new KeyValuePair<string, object?>(TelemetryNames.PreviousEnd, end));
        if (report.LeasesLeft + report.LeasesExpired > 0)
        {
            RecoveredLeases.Add(report.LeasesLeft + report.LeasesExpired);
        }
    }

    public Histogram<double> ReceiveWait { get; }

    /// <summary>Sets the queue counts that the observable instruments report (refreshed by the maintenance service).</summary>
    public void Publish(IReadOnlyList<QueueSnapshot> snapshot) => _snapshot = snapshot;

    public void RecordOperation(string queue, string operation, string type, long startTimestamp, Exception? error = null)
    {
        if (!OperationDuration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { TelemetryNames.MessagingSystem, TelemetryNames.System },
            { TelemetryNames.DestinationName, queue },
            { TelemetryNames.OperationName, operation },
            { TelemetryNames.OperationType, type },
        };
        if (error is not null)
        {
            tags.Add(TelemetryNames.ErrorType, ErrorType(error));
        }

        OperationDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    /// <summary>Records how long a worker waited for a message in an empty queue, and whether one arrived before the wait ended.</summary>
    public void RecordReceiveWait(string queue, long startTimestamp, bool arrived)
    {
        if (!ReceiveWait.Enabled)
        {
            return;
        }

        ReceiveWait.Record(
            Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds,
            new KeyValuePair<string, object?>(TelemetryNames.MessagingSystem, TelemetryNames.System),
            new KeyValuePair<string, object?>(TelemetryNames.DestinationName, queue),
            new KeyValuePair<string, object?>(TelemetryNames.WaitOutcome, arrived ? "message" : "timeout"));
    }

    public void RecordProcess(string queue, long startTimestamp, Exception? error)
    {
        if (!ProcessDuration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { TelemetryNames.MessagingSystem, TelemetryNames.System },
            { TelemetryNames.DestinationName, queue },
            { TelemetryNames.OperationName, "process" },
            { TelemetryNames.OperationType, "process" },
        };
        if (error is not null)
        {
            tags.Add(TelemetryNames.ErrorType, ErrorType(error));
        }

        ProcessDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
    }

    public void Count(Counter<long> counter, string queue, long count = 1)
    {
        if (counter.Enabled && count > 0)
        {
            counter.Add(count, new KeyValuePair<string, object?>(TelemetryNames.MessagingSystem, TelemetryNames.System),
                new KeyValuePair<string, object?>(TelemetryNames.DestinationName, queue));
        }
    }

    /// <summary>The low-cardinality error type: the exception's full name.</summary>
    public static string ErrorType(Exception error) => error.GetType().FullName ?? "_OTHER";

    /// <summary>Starts a producer span and writes its context into <paramref name="headers"/> (W3C traceparent).</summary>
    public static Activity? StartSend(string queue, IDictionary<string, string> headers)
    {
        var activity = ActivitySource.StartActivity($"enqueue {queue}", ActivityKind.Producer);
        if (activity is not null)
        {
            activity.SetTag(TelemetryNames.MessagingSystem, TelemetryNames.System);
            activity.SetTag(TelemetryNames.DestinationName, queue);
            activity.SetTag(TelemetryNames.OperationName, "enqueue");
            activity.SetTag(TelemetryNames.OperationType, "send");
        }

        // Without a listener there is no span of ours, but the caller's trace still travels with the message.
        var context = activity ?? Activity.Current;
        if (context is not null)
        {
            DistributedContextPropagator.Current.Inject(context, headers, static (carrier, key, value) =>
            {
                if (carrier is IDictionary<string, string> map && value is not null)
                {
                    map[key] = value;
                }
            });
        }

        return activity;
    }

    /// <summary>Starts the consumer span of a handler run, as a child of the producer's context found in the headers, linked to it too.</summary>
    public static Activity? StartProcess(QueueMessage message)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        DistributedContextPropagator.Current.ExtractTraceIdAndState(message.Headers, static (object? carrier, string name, out string? value, out IEnumerable<string>? values) =>
        {
            values = null;
            value = carrier is IReadOnlyDictionary<string, string> map && map.TryGetValue(name, out var v) ? v : null;
        }, out var traceParent, out var traceState);

        ActivityContext parent = default;
        ActivityLink[]? links = null;
        if (traceParent is not null && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context))
        {
            parent = context;
            links = [new ActivityLink(context)];
        }

        var activity = ActivitySource.StartActivity($"process {message.QueueName}", ActivityKind.Consumer, parent, tags: null, links);
        if (activity is not null)
        {
            activity.SetTag(TelemetryNames.MessagingSystem, TelemetryNames.System);
            activity.SetTag(TelemetryNames.DestinationName, message.QueueName);
            activity.SetTag(TelemetryNames.OperationName, "process");
            activity.SetTag(TelemetryNames.OperationType, "process");
            activity.SetTag(TelemetryNames.MessageId, message.Id.Value);
            activity.SetTag(TelemetryNames.DeliveryCount, message.Attempt);
        }

        return activity;
    }

    private IEnumerable<Measurement<long>> ObserveMessages()
    {
        foreach (var queue in _snapshot)
        {
            yield return Measure(queue.Counts.Ready, queue.Name, "available");
            yield return Measure(queue.Counts.Delayed, queue.Name, "delayed");
            yield return Measure(queue.Counts.Leased, queue.Name, "leased");
            yield return Measure(queue.Counts.DeadLettered, queue.Name, "dead_lettered");
        }

        static Measurement<long> Measure(long value, string queue, string state) => new(
            value,
            new KeyValuePair<string, object?>(TelemetryNames.MessagingSystem, TelemetryNames.System),
            new KeyValuePair<string, object?>(TelemetryNames.DestinationName, queue),
            new KeyValuePair<string, object?>(TelemetryNames.MessageState, state));
    }

    private IEnumerable<Measurement<double>> ObserveOldestAge()
    {
        foreach (var queue in _snapshot)
        {
            yield return new Measurement<double>(
                queue.OldestMessageAge.TotalSeconds,
                new KeyValuePair<string, object?>(TelemetryNames.MessagingSystem, TelemetryNames.System),
                new KeyValuePair<string, object?>(TelemetryNames.DestinationName, queue.Name));
        }
    }

    private static string GetVersion()
    {
        var version = typeof(HostingTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus < 0 ? version : version[..plus];
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}

/// <summary>The counts of one queue at the last refresh.</summary>
internal sealed record QueueSnapshot(string Name, QueueCounts Counts, TimeSpan OldestMessageAge);
