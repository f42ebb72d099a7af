using System.Diagnostics;
using DurableQueue.Hosting.Diagnostics;
using DurableQueue.Hosting.Storage;

namespace DurableQueue.Hosting;

/// <summary>
/// One received message while its handler runs. Exactly one settle happens per delivery: the handler's own
/// <see cref="MessageContext.CompleteAsync(Action{QueueTransaction}, CancellationToken)"/>, the worker's ack or nack,
/// or the hand-back at shutdown; whichever claims the delivery first wins.
/// </summary>
internal sealed class Delivery
{
    private const int Open = 0;
    private const int Settling = 1;
    private const int Done = 2;

    private readonly JobStore _jobs;
    private readonly HostingTelemetry _telemetry;
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state;

    public Delivery(QueueMessage message, MessageQueue queue, JobStore jobs, HostingTelemetry telemetry, CancellationToken handlersToken)
    {
        Message = message;
        Queue = queue;
        _jobs = jobs;
        _telemetry = telemetry;
        IsJob = message.Headers.ContainsKey(TelemetryNames.JobHeader);
        HandlerCancellation = CancellationTokenSource.CreateLinkedTokenSource(handlersToken);
    }

    public QueueMessage Message { get; }

    public MessageQueue Queue { get; }

    public bool IsJob { get; }

    /// <summary>Gets the handler's token source: cancelled when a lease extension fails or the shutdown timeout ends.</summary>
    public CancellationTokenSource HandlerCancellation { get; }

    /// <summary>Gets the renewal loop's token source, cancelled once the delivery is settled or handed back.</summary>
    public CancellationTokenSource RenewalCancellation { get; } = new();

    public bool IsSettledOrSettling => Volatile.Read(ref _state) != Open;

    /// <summary>Gets a task that completes once a settle or hand-back has finished (successfully or not).</summary>
    public Task Settled => _settled.Task;

    public bool ReturnsResult { get; set; }

    /// <summary>Acks the message, runs the app's work and records the job's success in one unit of work.</summary>
    public async ValueTask<T> CompleteAsync<T>(Func<QueueTransaction, T>? work, byte[]? result, CancellationToken cancellationToken)
    {
        if (!TryClaim())
        {
            throw new InvalidOperationException(HostingErrors.AlreadySettled);
        }

        var start = Stopwatch.GetTimestamp();
        try
        {
            T value = default!;
            if (work is null && !IsJob)
            {
                await Queue.AckAsync(Message, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                value = await Queue.Store.ExecuteAsync(
                    tx =>
                    {
                        var r = work is null ? default! : work(tx);
                        tx.Ack(Message);
                        if (IsJob)
                        {
                            _jobs.Succeeded(tx.Connection, Message.Id, tx.Now.ToUnixTimeMilliseconds(), Message.Attempt, result);
                        }

                        return r;
                    },
                    cancellationToken).ConfigureAwait(false);
            }

            _telemetry.RecordOperation(Queue.Name, "ack", "settle", start);
            Finish();
            if (IsJob)
            {
                _jobs.NotifyFinished(Message.Id);
            }

            return value;
        }
        catch (Exception ex)
        {
            _telemetry.RecordOperation(Queue.Name, "ack", "settle", start, ex);
            if (ex is LeaseLostException)
            {
                // Nothing can be settled any more.
                Finish();
            }
            else
            {
                // The app's work failed and rolled back: the worker nacks the message.
                Volatile.Write(ref _state, Open);
            }

            throw;
        }
    }

    /// <summary>Gives the message back after a failed attempt (the core dead-letters it on the last one).</summary>
    public async ValueTask<NackOutcome?> NackAsync(string error, TimeSpan retryAfter, CancellationToken cancellationToken)
    {
        if (!TryClaim())
        {
            return null;
        }

        return await SettleAsync("nack", async () =>
        {
            var outcome = IsJob
                ? await Queue.Store.ExecuteAsync(
                    tx =>
                    {
                        var o = tx.Nack(Message, retryAfter, error);
                        _jobs.Failed(tx.Connection, Message.Id, tx.Now.ToUnixTimeMilliseconds(), Message.Attempt, o, error);
                        return o;
                    },
                    cancellationToken).ConfigureAwait(false)
                : await Queue.NackAsync(Message, retryAfter, error, cancellationToken).ConfigureAwait(false);
            if (IsJob && outcome == NackOutcome.DeadLettered)
            {
                _jobs.NotifyFinished(Message.Id);
            }

            return outcome;
        }).ConfigureAwait(false);
    }

    /// <summary>Moves an unreadable message to the dead-letter store at once.</summary>
    public async ValueTask<bool> DeadLetterAsync(string reason, CancellationToken cancellationToken)
    {
        if (!TryClaim())
        {
            return false;
        }

        return await SettleAsync("dead_letter", async () =>
        {
            await Queue.Store.ExecuteAsync(
                tx =>
                {
                    tx.DeadLetter(Message, reason);
                    if (IsJob)
                    {
                        _jobs.Failed(tx.Connection, Message.Id, tx.Now.ToUnixTimeMilliseconds(), Message.Attempt, NackOutcome.DeadLettered, reason);
                    }
                },
                cancellationToken).ConfigureAwait(false);
            if (IsJob)
            {
                _jobs.NotifyFinished(Message.Id);
            }

            return true;
        }).ConfigureAwait(false);
    }

    /// <summary>Acks the message of a cancelled job without running it.</summary>
    public async ValueTask SkipAsync(CancellationToken cancellationToken)
    {
        if (!TryClaim())
        {
            return;
        }

        try
        {
            await Queue.AckAsync(Message, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Finish();
        }
    }

    /// <summary>
    /// Hands the message back at once, visible again with its attempt not spent; false when a settle got there first.
    /// A job's status moves back with its message, in the same transaction.
    /// </summary>
    public async ValueTask<bool> TryReleaseAsync(CancellationToken cancellationToken)
    {
        if (!TryClaim())
        {
            return false;
        }

        await RenewalCancellation.CancelAsync().ConfigureAwait(false);
        return await SettleAsync("release", async () =>
        {
            if (IsJob)
            {
                await Queue.Store.ExecuteAsync(
                    tx =>
                    {
                        tx.Release(Message);
                        JobStore.Released(tx.Connection, Message.Id);
                    },
                    cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await Queue.ReleaseAsync(Message.Receipt, cancellationToken).ConfigureAwait(false);
            }

            return true;
        }).ConfigureAwait(false);
    }

    private bool TryClaim() => Interlocked.CompareExchange(ref _state, Settling, Open) == Open;

    /// <summary>Runs a settle that ends the delivery whatever its outcome, timing it for the operation metric.</summary>
    private async ValueTask<T> SettleAsync<T>(string operation, Func<ValueTask<T>> settle)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            var result = await settle().ConfigureAwait(false);
            _telemetry.RecordOperation(Queue.Name, operation, "settle", start);
            return result;
        }
        catch (Exception ex)
        {
            _telemetry.RecordOperation(Queue.Name, operation, "settle", start, ex);
            throw;
        }
        finally
        {
            Finish();
        }
    }

    private void Finish()
    {
        Volatile.Write(ref _state, Done);
        RenewalCancellation.Cancel();
        _settled.TrySetResult();
    }
}
