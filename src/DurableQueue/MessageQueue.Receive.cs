using DurableQueue.Internal;
using DurableQueue.Storage;

namespace DurableQueue;

public sealed partial class MessageQueue
{
    /// <summary>
    /// Receives up to <paramref name="maxMessages"/> ready messages and leases them to the caller, in delivery order:
    /// the most urgent priority first, then the time each became ready, then enqueue order.
    /// </summary>
    /// <param name="maxMessages">The most messages to lease, from 1 to 1000.</param>
    /// <param name="visibilityTimeout">How long the messages stay invisible to other consumers, or <see langword="null"/> for the queue's default.</param>
    /// <param name="waitTime">How long to wait for a message when none is ready; zero returns at once.</param>
    /// <param name="cancellationToken">A token to cancel the wait.</param>
    /// <returns>The leased messages; an empty list when none arrived within <paramref name="waitTime"/>.</returns>
    /// <remarks>
    /// The attempt is counted durably before the message is handed out. A wait ends as soon as a message is
    /// committed through this store or a delayed one comes due; commits by other processes sharing the file are
    /// noticed within <see cref="QueueStoreOptions.PollInterval"/>.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public async ValueTask<IReadOnlyList<QueueMessage>> ReceiveAsync(
        int maxMessages = 1, TimeSpan? visibilityTimeout = null, TimeSpan waitTime = default, CancellationToken cancellationToken = default)
    {
        Validate.MaxMessages(maxMessages, nameof(maxMessages));
        var visibilityMs = Validate.Timeout(visibilityTimeout ?? _state.Options.VisibilityTimeout, nameof(visibilityTimeout));
        Validate.Wait(waitTime, nameof(waitTime));
        cancellationToken.ThrowIfCancellationRequested();

        var clock = _store.Clock;
        var deadline = clock.GetUtcNow() + waitTime;
        while (true)
        {
            // Take the signal before looking, so that an arrival between the look and the wait is not missed.
            var arrival = _state.Arrivals.WaitTask;
            var (messages, nextVisibleAt) = await _store.WriteAsync(
                context =>
                {
                    var list = context.Commands.Receive(context, Name, QueueIdOf(context), maxMessages, visibilityMs, out var next);
                    NoteFinalLeases(context, list);
                    return (list, next);
                },
                cancellationToken,
                group: ReceiveGroup.Instance,
                groupItem: _store.Writer.GroupedWrites ? new ReceiveItem(this, maxMessages, visibilityMs) : null).ConfigureAwait(false);

            if (messages.Count > 0 || waitTime == TimeSpan.Zero)
            {
                return messages;
            }

            var now = clock.GetUtcNow();
            var remaining = deadline - now;
            if (remaining <= TimeSpan.Zero)
            {
                return messages;
            }

            // No polling tick: commits through this store pulse the signal, the store's watcher pulses it for commits
            // by other processes, and the timer below covers the next delayed, nacked or expiring message.
            var sleep = remaining;
            if (nextVisibleAt is { } next)
            {
                var untilDue = DateTimeOffset.FromUnixTimeMilliseconds(next) - now;
                if (untilDue <= TimeSpan.Zero)
                {
                    // It came due while we looked: look again at once. A 1 ms sleep here never ends on a clock that
                    // does not move by itself (FakeTimeProvider), and is a wasted wake-up on a real one.
                    continue;
                }

                if (untilDue < sleep)
                {
                    sleep = untilDue;
                }
            }

            if (await _store.Driver.AnnounceWaitAsync(Name, sleep, cancellationToken).ConfigureAwait(false))
            {
                // Other connections learnt only now that we wait: a commit of theirs before that sent no wake-up.
                continue;
            }

            // Telling them may have taken time (a failed attempt takes up to the whole wait): wait only for the rest.
            sleep -= clock.GetUtcNow() - now;
            if (sleep <= TimeSpan.Zero)
            {
                continue;
            }

            await WaitForArrivalAsync(arrival, sleep, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WaitForArrivalAsync(Task arrival, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(timeout, _store.Clock, cancel.Token);
        await Task.WhenAny(arrival, delay).ConfigureAwait(false);
        await cancel.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        _store.ThrowIfDisposed();
    }

    /// <summary>A lease on the last attempt must be dead-lettered the moment it expires: arm the store's timer.</summary>
    private void NoteFinalLeases(WriteContext context, List<QueueMessage> messages)
    {
        var earliest = long.MaxValue;
        foreach (var message in messages)
        {
            if (message.IsLastAttempt)
            {
                earliest = Math.Min(earliest, message.LeaseExpiresAt.ToUnixTimeMilliseconds());
            }
        }

        if (earliest != long.MaxValue)
        {
            context.AfterCommit(() => _store.ScheduleSweep(earliest));
        }
    }
}
