using DurableQueue.Storage;

namespace DurableQueue;

public sealed partial class QueueStore
{
    /// <summary>
    /// Runs a unit of work on the store's writer: the app's own SQL on this file, enqueues and settles, committed as
    /// one transaction. Everything in it commits together or not at all.
    /// </summary>
    /// <typeparam name="T">The type of the callback's result.</typeparam>
    /// <param name="work">
    /// The callback. It runs on the writer thread: keep it short and synchronous (no awaits, no network), because
    /// every other write of the store waits for it. Throw to roll back.
    /// </param>
    /// <param name="cancellationToken">A token to cancel the unit before it reaches the writer.</param>
    /// <returns>The callback's result, once the transaction is committed.</returns>
    /// <exception cref="LeaseLostException">An ack, nack or dead-letter in the unit found its lease lost; nothing was committed.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public ValueTask<T> ExecuteAsync<T>(Func<QueueTransaction, T> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return WriteAsync(
            context =>
            {
                var transaction = new QueueTransaction(context, this);
                T result;
                context.InCallerCode = true;
                try
                {
                    result = work(transaction);
                }
                catch (Exception ex) when (!context.Session.TransactionActive)
                {
                    throw new InvalidOperationException(ErrorMessages.TransactionCompletedByCaller, ex);
                }
                finally
                {
                    context.InCallerCode = false;
                    transaction.Complete();
                }

                if (!context.Session.TransactionActive)
                {
                    throw new InvalidOperationException(ErrorMessages.TransactionCompletedByCaller);
                }

                if (transaction.LostLease is { } lost)
                {
                    throw new LeaseLostException(lost.Message, lost);
                }

                // The app's SQL may have changed leases: the next batch looks for expired last attempts again.
                context.AfterCommit(_sweeper.Forget);
                return result;
            },
            cancellationToken,
            alwaysMarksCommit: true,
            mayLead: false);
    }

    /// <summary>
    /// Runs a unit of work on the store's writer: the app's own SQL on this file, enqueues and settles, committed as
    /// one transaction. Everything in it commits together or not at all.
    /// </summary>
    /// <param name="work">The callback; keep it short and synchronous. Throw to roll back.</param>
    /// <param name="cancellationToken">A token to cancel the unit before it reaches the writer.</param>
    /// <returns>A task that completes once the transaction is committed.</returns>
    /// <exception cref="LeaseLostException">An ack, nack or dead-letter in the unit found its lease lost; nothing was committed.</exception>
    public async ValueTask ExecuteAsync(Action<QueueTransaction> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        await ExecuteAsync(
            transaction =>
            {
                work(transaction);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }
}
