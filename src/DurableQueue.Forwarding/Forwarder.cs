using System.Collections.Concurrent;
using System.Globalization;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using System.Threading.RateLimiting;
using DurableQueue.Forwarding.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace DurableQueue.Forwarding;

/// <summary>
/// Hands the messages of one local queue to a remote side through an <see cref="IMessageSink"/>: store and forward.
/// A message is acked locally only after the remote confirmed it; a retryable failure backs off with jitter while the
/// forwarder keeps the message's lease (so no attempt is spent); a refusal dead-letters it with the reason.
/// </summary>
/// <remarks>
/// <para>Order: messages with the same ordering key reach the remote in the local queue's delivery order (for
/// messages of one priority enqueued without a delay: enqueue order), also across failures and restarts; different
/// keys go in parallel.</para>
/// <para>Crashes: a message is acked only after its confirmation, so a crash leaves every unconfirmed message in the
/// queue. The next start finds the messages the crashed run held (leased, never settled), sends them first, in order,
/// and acks them once the queue hands them back. At most <see cref="ForwarderOptions.Window"/> messages can reach
/// the remote twice per crash; each carries a message id (<see cref="OutboundMessage.MessageId"/>) for the receiver
/// to drop duplicates.</para>
/// <para>One forwarder per queue: the queue must have no other consumer, in this process or another one.</para>
/// </remarks>
public sealed partial class Forwarder
{
    private readonly MessageQueue _queue;
    private readonly IMessageSink _sink;
    private readonly ForwarderOptions _options;
    private readonly ILogger _logger;
    private readonly ForwardingTelemetry _telemetry;
    private readonly TimeProvider _clock;
    private readonly ResiliencePipeline _pipeline;
    private readonly ForwardedLog _log;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentDictionary<MessageReceipt, Entry> _held = new();
    private readonly Dictionary<string, Lane> _lanes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _laneTasks = new();
    private readonly Channel<Settlement> _settlements = Channel.CreateUnbounded<Settlement>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<long, string?> _recovered = new();
    private readonly TokenBucketRateLimiter? _messageLimiter;
    private readonly TokenBucketRateLimiter? _byteLimiter;
    private readonly ArrivalPacer? _pacer;
    private readonly Lock _statusLock = new();
    private readonly KeyValuePair<string, object?>[] _tags;

    private string _fileId = "";
    private int _started;
    private CancellationToken _stopping;
    private int _recoveryPending;
    private int _extraFlights;
    private TaskCompletionSource? _recoveryDone;
    private Exception? _fatal;
    private CancellationTokenSource? _stop;

    private long _forwarded;
    private long _deadLettered;
    private long _retries;
    private LinkState _link;
    private DateTimeOffset? _linkDownSince;
    private DateTimeOffset _linkSince;
    private long _lastForwardedAtMs = long.MinValue;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private DateTimeOffset? _oldestReady;
    private double _rate;
    private long _rateForwarded;
    private DateTimeOffset _rateSince;

    /// <summary>Initializes a new instance of the <see cref="Forwarder"/> class.</summary>
    /// <param name="name">The forwarder's name, for logs, metrics and health.</param>
    /// <param name="queue">The local queue to forward; it must have no other consumer.</param>
    /// <param name="sink">The remote side. The forwarder does not dispose it.</param>
    /// <param name="options">The options, or <see langword="null"/> for the defaults; they are copied.</param>
    /// <param name="logger">The logger, or <see langword="null"/>.</param>
    /// <param name="meterFactory">The meter factory of the host, or <see langword="null"/> for a static meter.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public Forwarder(string name, MessageQueue queue, IMessageSink sink, ForwarderOptions? options = null, ILogger? logger = null, IMeterFactory? meterFactory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(sink);
        _options = (options ?? new ForwarderOptions()).Clone();
        _options.Validate();
        Name = name;
        _queue = queue;
        _sink = sink;
        _logger = logger ?? NullLogger.Instance;
        _telemetry = ForwardingTelemetry.For(meterFactory);
        _tags = _telemetry.TagsOf(this);
        _clock = _options.TimeProvider ?? TimeProvider.System;
        _log = new ForwardedLog(queue.Store, queue.Name);
        _slots = new SemaphoreSlim(_options.Window, _options.Window);
        _pipeline = BuildPipeline();
        _messageLimiter = Limiter(_options.MessagesPerSecond);
        _byteLimiter = Limiter(_options.BytesPerSecond);
        _pacer = _options.PaceToArrivals is { } pace ? new ArrivalPacer(ReadEnteredAsync, pace, _clock, ForwardingDefaults.ArrivalInterval) : null;
        _rateSince = _clock.GetUtcNow();
        _linkSince = _rateSince;
    }

    /// <summary>Gets the forwarder's name.</summary>
    public string Name { get; }

    /// <summary>Gets the name of the queue it forwards.</summary>
    public string QueueName => _queue.Name;

    /// <summary>Gets the forwarder's options (a copy; changing it has no effect).</summary>
    public ForwarderOptions Options => _options.Clone();

    internal DateTimeOffset Now => _clock.GetUtcNow();

    internal TimeSpan LinkDownDegradedAfter => _options.LinkDownDegradedAfter;

    /// <summary>Gets a snapshot of the forwarder's progress and link.</summary>
    /// <returns>The status now; the lag counts the queue's oldest ready message as of the last status interval.</returns>
    public ForwarderStatus GetStatus()
    {
        var now = _clock.GetUtcNow();
        DateTimeOffset? oldest = _oldestReady;
        // The dictionary's enumerator takes no lock and copies nothing (its Values property does both).
        foreach (var (_, entry) in _held)
        {
            if (!entry.Confirmed && (oldest is null || entry.Message.EnqueuedAt < oldest))
            {
                oldest = entry.Message.EnqueuedAt;
            }
        }

        var lag = oldest is { } o && o < now ? now - o : TimeSpan.Zero;
        lock (_statusLock)
        {
            return new ForwarderStatus(
                Name, QueueName, _link, _linkDownSince, Interlocked.Read(ref _forwarded), Interlocked.Read(ref _deadLettered),
                Interlocked.Read(ref _retries), _held.Count, _rate, lag, _lastError, _lastErrorAt)
            {
                LinkSince = _linkSince,
                LastForwardedAt = LastForwardedAt,
                Pacing = _pacer?.Holding ?? false,
            };
        }
    }

    /// <summary>
    /// Runs the forwarder until <paramref name="cancellationToken"/> is cancelled: first the messages a previous run
    /// held, then the queue as messages arrive.
    /// </summary>
    /// <param name="cancellationToken">A token that stops the forwarder. Confirmed messages are still acked; the others stay in the queue.</param>
    /// <returns>A task that completes when the forwarder has stopped.</returns>
    /// <exception cref="InvalidOperationException">The forwarder was run already.</exception>
    /// <exception cref="ObjectDisposedException">The queue's store was disposed while the forwarder ran.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException($"Forwarder '{Name}' was run already; create a new one to run again.");
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _stop = stop;
        _stopping = stop.Token;
        _telemetry.Attach(this);
        var settler = Task.Run(SettleLoopAsync, CancellationToken.None);
        var keeper = KeepLoopAsync(stop.Token);
        var reporter = StatusLoopAsync(stop.Token);
        var recovered = false;
        try
        {
            await RecoverAsync(stop.Token).ConfigureAwait(false);
            recovered = true;
            Log.Started(_logger, Name, QueueName, _options.Window);
            await ReceiveLoopAsync(stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            // Lanes end on the token; what they got confirmed is settled before the settler drains and stops.
            await Task.WhenAll(_laneTasks.Keys).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _settlements.Writer.TryComplete();
            await settler.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await keeper.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await reporter.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await WriteStoppedStatusAsync().ConfigureAwait(false);
            if (recovered && _fatal is null && _held.IsEmpty && _recovered.IsEmpty)
            {
                await MarkStoppedCleanAsync().ConfigureAwait(false);
            }

            _telemetry.Detach(this);
            _messageLimiter?.Dispose();
            _byteLimiter?.Dispose();
            Log.Stopped(_logger, Name, _held.Count);
        }

        if (_fatal is { } fatal)
        {
            Log.Failed(_logger, fatal, Name);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(fatal);
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            await _slots.WaitAsync(stopping).ConfigureAwait(false);
            var taken = 1;
            // Leases in chunks: a long write would hold up the app's own enqueues, which share the store's one writer.
            while (taken < ForwardingDefaults.LocalChunk && _slots.Wait(0, CancellationToken.None))
            {
                taken++;
            }

            IReadOnlyList<QueueMessage> received;
            try
            {
                received = await _queue.ReceiveAsync(taken, _options.LeaseDuration, ForwardingDefaults.ReceiveWait, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                _slots.Release(taken);
                return;
            }
            catch (StorageBusyException ex)
            {
                _slots.Release(taken);
                Log.LocalStepFailed(_logger, ex, Name);
                await Task.Delay(ForwardingDefaults.BusyRetryDelay, _clock, stopping).ConfigureAwait(false);
                continue;
            }

            if (received.Count < taken)
            {
                _slots.Release(taken - received.Count);
            }

            var entries = new List<Entry>(received.Count);
            foreach (var message in received)
            {
                if (!_recovered.IsEmpty && _recovered.TryGetValue(message.Id.Value, out var rejected))
                {
                    // Sent again (and confirmed or refused) by this start's recovery: settle it, do not send it again.
                    _settlements.Writer.TryWrite(Settlement.OfRecovered(message, rejected));
                    continue;
                }

                var entry = new Entry(ToOutbound(message.Id, message.Headers, message.Body, message.EnqueuedAt), message);
                _held[message.Receipt] = entry;
                entries.Add(entry);
            }

            Enqueue(entries);
            if (received.Count > 0 && received.Count < taken && _options.Linger > TimeSpan.Zero)
            {
                // Caught up: the queue had fewer ready messages than there was room for. Let the next ones gather for
                // a moment, so that a busy app's messages go in one lease and one ack instead of one pair per commit.
                try
                {
                    await Task.Delay(_options.Linger, _clock, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Nothing is held: the next start may skip its scan. Best effort; without the record the next start scans.</summary>
    private async Task MarkStoppedCleanAsync()
    {
        try
        {
            await _log.MarkStoppedCleanAsync(LocalToken()).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StorageBusyException or OperationCanceledException or ObjectDisposedException)
        {
            Log.LocalStepFailed(_logger, ex, Name);
        }
    }

    private OutboundMessage ToOutbound(MessageId id, IReadOnlyDictionary<string, string> headers, ReadOnlyMemory<byte> body, DateTimeOffset enqueuedAt)
    {
        var messageId = MessageIdOf(_fileId, id.Value);
        var key = "";
        if (_options.OrderingKey is { } keyOf)
        {
            key = keyOf(new OutboundMessage(id, messageId, body, headers, enqueuedAt, "")) ?? "";
        }
        else if (_options.OrderingKeyHeader is { } header && headers.TryGetValue(header, out var value))
        {
            key = value;
        }

        return new OutboundMessage(id, messageId, body, headers, enqueuedAt, key);
    }

    /// <summary>The id the remote sees: the file's id, a dash, the local id; built in one string.</summary>
    private static string MessageIdOf(string fileId, long id)
    {
        Span<char> digits = stackalloc char[20];
        id.TryFormat(digits, out var length, default, CultureInfo.InvariantCulture);
        return string.Create(fileId.Length + 1 + length, (fileId, id), static (span, state) =>
        {
            state.fileId.CopyTo(span);
            span[state.fileId.Length] = '-';
            state.id.TryFormat(span[(state.fileId.Length + 1)..], out _, default, CultureInfo.InvariantCulture);
        });
    }

    private ResiliencePipeline BuildPipeline()
    {
        var handled = new PredicateBuilder().Handle<ForwardingSendException>().Handle<BrokenCircuitException>();
        return new ResiliencePipelineBuilder { TimeProvider = _clock }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = handled,
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryDelay,
                MaxDelay = _options.MaxRetryDelay,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<ForwardingSendException>(),
                FailureRatio = 0.5,
                MinimumThroughput = 2,
                SamplingDuration = _options.BreakDuration * 2,
                BreakDuration = _options.BreakDuration,
            })
            .Build();
    }

    private static TokenBucketRateLimiter? Limiter(int? perSecond) => perSecond is not { } rate ? null : new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
    {
        // Refilled in tenths of a second by the limiter's own timer, up to one second's worth (the burst).
        TokenLimit = rate,
        TokensPerPeriod = Math.Max(1, rate / 10),
        ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
        AutoReplenishment = true,
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    private async ValueTask<long> ReadEnteredAsync(CancellationToken cancellationToken)
    {
        var totals = await _queue.Store.GetQueueTotalsAsync(cancellationToken).ConfigureAwait(false);
        foreach (var total in totals)
        {
            if (string.Equals(total.Name, _queue.Name, StringComparison.Ordinal))
            {
                return total.Entered;
            }
        }

        return 0;
    }

    private static async ValueTask AcquireAsync(TokenBucketRateLimiter? limiter, int? bucket, long permits, CancellationToken cancellationToken)
    {
        if (limiter is null || bucket is not { } limit || permits <= 0)
        {
            return;
        }

        // A batch worth more than the bucket holds waits for a full bucket: a limiter refuses larger requests.
        using var lease = await limiter.AcquireAsync((int)Math.Min(permits, limit), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One message on its way: the outbound form and, unless it came from the start-up scan, its lease.</summary>
    private sealed class Entry(OutboundMessage message, QueueMessage? lease)
    {
        public OutboundMessage Message { get; } = message;

        public QueueMessage? Lease { get; } = lease;

        public bool Confirmed { get; set; }
    }

    /// <summary>The messages of one ordering key that wait to be sent, in order; one sender per lane.</summary>
    private sealed class Lane(Forwarder owner, string key)
    {
        public Forwarder Owner { get; } = owner;

        public string Key { get; } = key;

        public Queue<Entry> Pending { get; } = new();

        /// <summary>Gets or sets what the lane's sender waits on while the lane is empty (guarded like <see cref="Pending"/>).</summary>
        public TaskCompletionSource? Arrival { get; set; }
    }
}
