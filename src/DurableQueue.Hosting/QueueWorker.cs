using System.Collections.Concurrent;
using System.Diagnostics;
using DurableQueue.Hosting.Diagnostics;
using DurableQueue.Hosting.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DurableQueue.Hosting;

/// <summary>
/// Runs the handler of one queue: receives up to <see cref="QueueHandlerOptions.Concurrency"/> messages at a time, runs
/// each in its own DI scope while renewing its lease, then acks, or nacks with backoff (the core dead-letters the last
/// attempt). A handler's exception is caught per message; only a storage failure of the receive loop stops the worker.
/// </summary>
/// <remarks>
/// No write transaction is open while a handler runs: the lease is taken in one short transaction and the settle
/// (the app's writes, the ack, the job's status) happens in another.
/// </remarks>
internal sealed class QueueWorker : BackgroundService
{
    private readonly HandlerRegistration _registration;
    private readonly QueueHandlerOptions _options;
    private readonly JobStore _jobs;
    private readonly IServiceScopeFactory _scopes;
    private readonly IRetryBackoff _backoff;
    private readonly HostingTelemetry _telemetry;
    private readonly WorkerEvents _events;
    private readonly ILogger _logger;
    private readonly TimeSpan _renewEvery;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _handlersCts = new();
    private readonly ConcurrentDictionary<Delivery, byte> _running = new();
    private MessageQueue? _queue;

    public QueueWorker(
        HandlerRegistration registration,
        QueueHandlerOptions options,
        JobStore jobs,
        IServiceScopeFactory scopes,
        IRetryBackoff backoff,
        HostingTelemetry telemetry,
        WorkerEvents events,
        ILogger<QueueWorker> logger)
    {
        _registration = registration;
        _options = options.Clone();
        _jobs = jobs;
        _scopes = scopes;
        _backoff = backoff;
        _telemetry = telemetry;
        _events = events;
        _logger = logger;
        _renewEvery = _options.VisibilityTimeout * HostingDefaults.LeaseRenewalFraction;
        _slots = new SemaphoreSlim(_options.Concurrency, _options.Concurrency);
    }

    public string QueueName => _registration.QueueName;

    private TimeProvider Clock => _jobs.Clock;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _jobs.EnsureReadyAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        _queue = _jobs.GetQueue(QueueName);
        Log.WorkerStarted(_logger, QueueName, _options.Concurrency);
        try
        {
            await ReceiveLoopAsync(_queue, stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            // Stop receiving, let running handlers finish; StopAsync bounds this wait with the host's shutdown timeout.
            await Task.WhenAll(_running.Keys.Select(d => d.Settled)).ConfigureAwait(false);
            Log.WorkerStopped(_logger, QueueName);
        }
    }

    private async Task ReceiveLoopAsync(MessageQueue queue, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _slots.WaitAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var taken = 1;
            while (taken < _options.Concurrency && _slots.Wait(0, CancellationToken.None))
            {
                taken++;
            }

            IReadOnlyList<QueueMessage> messages;
            try
            {
                // The receive itself (a short transaction) is timed as the operation; the wait for a message when the
                // queue is empty is idle time and goes to its own histogram, so that it does not hide receive latency.
                var start = Stopwatch.GetTimestamp();
                messages = await queue.ReceiveAsync(taken, _options.VisibilityTimeout, TimeSpan.Zero, stoppingToken).ConfigureAwait(false);
                _telemetry.RecordOperation(QueueName, "receive", "receive", start);
                if (messages.Count == 0)
                {
                    var waitStart = Stopwatch.GetTimestamp();
                    messages = await queue.ReceiveAsync(taken, _options.VisibilityTimeout, HostingDefaults.ReceiveWait, stoppingToken).ConfigureAwait(false);
                    _telemetry.RecordReceiveWait(QueueName, waitStart, messages.Count > 0);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                _slots.Release(taken);
                return;
            }
            catch (StorageBusyException ex)
            {
                // Another process held the write lock past the busy timeout: wait a little and try again.
                _slots.Release(taken);
                Log.ReceiveFailed(_logger, ex, QueueName);
                try
                {
                    await Task.Delay(_jobs.Options.PollInterval, Clock, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }
            catch (Exception ex)
            {
                _slots.Release(taken);
                Log.ReceiveFailed(_logger, ex, QueueName);
                throw;
            }

            _telemetry.Count(_telemetry.ConsumedMessages, QueueName, messages.Count);

            if (messages.Count < taken)
            {
                _slots.Release(taken - messages.Count);
            }

            foreach (var message in messages)
            {
                var delivery = new Delivery(message, queue, _jobs, _telemetry, _handlersCts.Token) { ReturnsResult = _registration.ReturnsResult };
                _running.TryAdd(delivery, 0);
                _ = Task.Run(() => RunAsync(delivery), CancellationToken.None);
            }
        }
    }

    private async Task RunAsync(Delivery delivery)
    {
        var message = delivery.Message;
        var outcome = DeliveryOutcome.LeaseLost;
        // Arm the renewal timer before the handler starts, so that a clock moved by the handler's caller is seen.
        var renewal = RenewLoopAsync(delivery);
        try
        {
            outcome = await HandleAsync(delivery).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            Log.LeaseLost(_logger, QueueName, message.Id.Value);
        }
        catch (ObjectDisposedException ex)
        {
            // The store closed under a handler that outlived the host's shutdown timeout.
            Log.SettleFailed(_logger, ex, QueueName, message.Id.Value);
        }
        catch (Exception ex)
        {
            Log.SettleFailed(_logger, ex, QueueName, message.Id.Value);
        }
        finally
        {
            try
            {
                await delivery.RenewalCancellation.CancelAsync().ConfigureAwait(false);
                await renewal.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delivery.HandlerCancellation.Dispose();
            }
            finally
            {
                // Never leak a slot: a lost slot would stop this worker for good.
                _running.TryRemove(delivery, out _);
                _slots.Release();
                _events.OnSettled(message, outcome);
            }
        }
    }

    private async Task<DeliveryOutcome> HandleAsync(Delivery delivery)
    {
        var message = delivery.Message;
        var handlerToken = delivery.HandlerCancellation.Token;
        if (delivery.IsJob)
        {
            var claimed = await _jobs.Store.ExecuteAsync(
                tx => JobStore.Claim(tx.Connection, message.Id, tx.Now.ToUnixTimeMilliseconds(), message.Attempt)).ConfigureAwait(false);
            if (!claimed)
            {
                await delivery.SkipAsync(CancellationToken.None).ConfigureAwait(false);
                Log.CancelledJobSkipped(_logger, QueueName, message.Id.Value);
                return DeliveryOutcome.Skipped;
            }
        }

        using var activity = HostingTelemetry.StartProcess(message);
        var start = Stopwatch.GetTimestamp();
        try
        {
            byte[]? result;
            var scope = _scopes.CreateAsyncScope();
            await using (scope.ConfigureAwait(false))
            {
                var context = new MessageContext(delivery, scope.ServiceProvider);
                result = await _registration.Invoke(scope.ServiceProvider, context, handlerToken).ConfigureAwait(false);
            }

            _telemetry.RecordProcess(QueueName, start, error: null);
            if (!delivery.IsSettledOrSettling)
            {
                using var settle = new CancellationTokenSource(HostingDefaults.SettleTimeout, Clock);
                await delivery.CompleteAsync<int>(work: null, result, settle.Token).ConfigureAwait(false);
            }

            Log.MessageCompleted(_logger, QueueName, message.Id.Value, message.Attempt);
            return DeliveryOutcome.Acked;
        }
        catch (Exception ex) when (ex is not LeaseLostException || !delivery.IsSettledOrSettling)
        {
            _telemetry.RecordProcess(QueueName, start, ex);
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity?.SetTag(TelemetryNames.ErrorType, HostingTelemetry.ErrorType(ex));
            return await FailAsync(delivery, ex).ConfigureAwait(false);
        }
    }

    private async Task<DeliveryOutcome> FailAsync(Delivery delivery, Exception ex)
    {
        var message = delivery.Message;
        using var settle = new CancellationTokenSource(HostingDefaults.SettleTimeout, Clock);
        if (_handlersCts.IsCancellationRequested && ex is OperationCanceledException)
        {
            // The shutdown timeout ended while the handler ran: hand the message back without spending the attempt.
            return await delivery.TryReleaseAsync(settle.Token).ConfigureAwait(false) ? DeliveryOutcome.Released : DeliveryOutcome.LeaseLost;
        }

        if (ex is UnreadableMessageException)
        {
            Log.UnreadableMessage(_logger, QueueName, message.Id.Value, ex.Message);
            await delivery.DeadLetterAsync(ex.Message, settle.Token).ConfigureAwait(false);
            _telemetry.Count(_telemetry.DeadLettered, QueueName);
            return DeliveryOutcome.DeadLettered;
        }

        var delay = _backoff.GetDelay(message.Attempt, _options.RetryBaseDelay, _options.RetryMaxDelay);
        var error = Describe(ex);
        var outcome = await delivery.NackAsync(error, delay, settle.Token).ConfigureAwait(false);
        switch (outcome)
        {
            case NackOutcome.DeadLettered:
                Log.MessageDeadLettered(_logger, ex, QueueName, message.Id.Value, message.Attempt, message.MaxAttempts);
                _telemetry.Count(_telemetry.DeadLettered, QueueName);
                return DeliveryOutcome.DeadLettered;
            case NackOutcome.Retrying:
                Log.HandlerFailed(_logger, QueueName, message.Id.Value, message.Attempt, message.MaxAttempts, delay, error);
                _telemetry.Count(_telemetry.Retried, QueueName);
                return DeliveryOutcome.Retrying;
            default:
                // Settled first by the handler itself or by the shutdown hand-back.
                return delivery.IsSettledOrSettling ? DeliveryOutcome.Acked : DeliveryOutcome.Released;
        }
    }

    /// <summary>
    /// The error recorded with the message (its last error, shown by the dead-letter tools and the job status): the
    /// exception's type and message on one line, bounded. No stack trace: it would store source paths in the file.
    /// </summary>
    internal static string Describe(Exception ex)
    {
        var text = $"{ex.GetType().FullName}: {string.Join(' ', ex.Message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries))}";
        return text.Length <= HostingDefaults.MaxErrorLength ? text : string.Concat(text.AsSpan(0, HostingDefaults.MaxErrorLength - 1), "…");
    }

    /// <summary>
    /// Renews the lease each time 80 % of the visibility timeout has passed on the monotonic clock
    /// (<see cref="TimeProvider.GetTimestamp"/>), and at once when the wall clock says the stored lease is about to end
    /// sooner (the clock was set forward, or the machine slept: the monotonic clock stops during a sleep, the wall clock
    /// does not). The wall clock is used only for what is stored, the lease's expiry. A failed renewal cancels the handler.
    /// </summary>
    /// <remarks>
    /// The loop wakes at least every <see cref="HostingDefaults.ClockCheckInterval"/> to compare the two clocks, so a
    /// jump is noticed within that time; until then another consumer may take a lease the jump ended. Its ack then wins
    /// and this handler's settle fails with <see cref="LeaseLostException"/>: fenced, never a double ack.
    /// </remarks>
    private async Task RenewLoopAsync(Delivery delivery)
    {
        var token = delivery.RenewalCancellation.Token;
        var renewedAt = Clock.GetTimestamp();
        var wallAtRenewal = Clock.GetUtcNow();
        var until = delivery.Message.LeaseExpiresAt;
        var margin = _options.VisibilityTimeout - _renewEvery;
        var step = _renewEvery < HostingDefaults.ClockCheckInterval ? _renewEvery : HostingDefaults.ClockCheckInterval;
        try
        {
            while (true)
            {
                var due = _renewEvery - Clock.GetElapsedTime(renewedAt);
                var wallSaysEnding = Clock.GetUtcNow() >= until - margin;
                if (due > TimeSpan.Zero && !wallSaysEnding)
                {
                    await Task.Delay(due < step ? due : step, Clock, token).ConfigureAwait(false);
                    continue;
                }

                var drift = (Clock.GetUtcNow() - wallAtRenewal) - Clock.GetElapsedTime(renewedAt);
                var start = Stopwatch.GetTimestamp();
                try
                {
                    until = await delivery.Queue.ExtendLeaseAsync(delivery.Message, _options.VisibilityTimeout, CancellationToken.None).ConfigureAwait(false);
                    renewedAt = Clock.GetTimestamp();
                    wallAtRenewal = Clock.GetUtcNow();
                    _telemetry.RecordOperation(QueueName, "extend_lease", "settle", start);
                    if (due > TimeSpan.Zero && drift.Duration() > HostingDefaults.ClockCheckInterval)
                    {
                        Log.LeaseRenewedAfterClockJump(_logger, QueueName, delivery.Message.Id.Value, drift);
                    }

                    _events.OnLeaseExtended(delivery.Message, until);
                }
                catch (Exception ex)
                {
                    if (token.IsCancellationRequested)
                    {
                        // Settled or handed back while the extension was under way: its failure means nothing.
                        return;
                    }

                    _telemetry.RecordOperation(QueueName, "extend_lease", "settle", start, ex);
                    Log.LeaseExtensionFailed(_logger, ex, QueueName, delivery.Message.Id.Value);
                    await delivery.HandlerCancellation.CancelAsync().ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Settled, handed back or stopped.
        }
        catch (ObjectDisposedException)
        {
            // The handler's token source was disposed after it finished.
        }
    }

    /// <inheritdoc/>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Running handlers may finish until the host's shutdown timeout ends; then their tokens are cancelled.
        var registration = cancellationToken.Register(static s => ((QueueWorker)s!).CancelHandlers(), this);
        await using (registration.ConfigureAwait(false))
        {
            await base.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        // Whatever still runs is handed back at once: visible again, attempt not spent, so that a restart does not
        // wait out the visibility timeout. A fresh short deadline, not the expired token, keeps the hand-back alive.
        var unfinished = _running.Keys.ToArray();
        if (unfinished.Length == 0)
        {
            return;
        }

        CancelHandlers();
        using var settle = new CancellationTokenSource(HostingDefaults.SettleTimeout, Clock);
        var released = 0;
        foreach (var delivery in unfinished)
        {
            try
            {
                if (await delivery.TryReleaseAsync(settle.Token).ConfigureAwait(false))
                {
                    released++;
                }
            }
            catch (Exception ex)
            {
                Log.SettleFailed(_logger, ex, QueueName, delivery.Message.Id.Value);
            }
        }

        // Settles that were already under way when the deadline came finish before the store may close.
        await Task.WhenAll(unfinished.Select(d => d.Settled)).WaitAsync(HostingDefaults.SettleTimeout, Clock, CancellationToken.None)
            .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (released > 0)
        {
            Log.MessagesReleased(_logger, QueueName, released);
        }
    }

    private void CancelHandlers()
    {
        try
        {
            _handlersCts.Cancel();
        }
        catch (AggregateException)
        {
            // A handler's cancellation callback threw; the handler will see its token anyway.
        }
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _handlersCts.Dispose();
        _slots.Dispose();
        base.Dispose();
    }
}
