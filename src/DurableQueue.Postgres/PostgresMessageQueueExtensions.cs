using DurableQueue.Postgres;
using DurableQueue.Postgres.Storage;
using DurableQueue.Storage;
using Npgsql;

namespace DurableQueue;

/// <summary>
/// Enqueues messages inside a transaction the app opened on its own PostgreSQL connection (the outbox pattern): the
/// app's rows and the message commit together, or neither does.
/// </summary>
public static class PostgresMessageQueueExtensions
{
    /// <summary>
    /// Enqueues a message in the app's own open transaction. It becomes visible (and wakes waiting receivers on every
    /// host) when that transaction commits; a rollback leaves no trace of it.
    /// </summary>
    /// <param name="queue">A queue of a store opened on PostgreSQL, in the same database as <paramref name="transaction"/>.</param>
    /// <param name="transaction">The app's open transaction; the statements run on its connection, synchronously.</param>
    /// <param name="body">The message body.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The id the message has once the transaction commits; with a live deduplication key, the existing message's id.</returns>
    /// <remarks>
    /// The message goes through the same admission as any enqueue: on a bounded queue that is full the call throws
    /// <see cref="QueueFullException"/> (it never waits inside the app's transaction). On any error the call undoes what
    /// it wrote (it runs in a savepoint of its own), so the app's transaction stays usable. The transaction must be on
    /// the store's database.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="queue"/> or <paramref name="transaction"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The body or an option is invalid.</exception>
    /// <exception cref="InvalidOperationException">The transaction has completed, or the store is not on PostgreSQL.</exception>
    /// <exception cref="QueueFullException">The queue is bounded and full.</exception>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public static MessageId Enqueue(this MessageQueue queue, NpgsqlTransaction transaction, ReadOnlyMemory<byte> body, EnqueueOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(transaction);
        var store = queue.Store;
        store.ThrowIfDisposed();
        if (store.Driver is not PostgresDriver driver)
        {
            throw new InvalidOperationException(PostgresErrorMessages.NotOnPostgres(store.Path));
        }

        var connection = transaction.Connection ?? throw new InvalidOperationException(PostgresErrorMessages.TransactionCompleted);
        var state = queue.State;
        var message = PendingMessage.Create(body, options, state.Options.MaxAttempts, store.Options.MaxMessageBytes);
        using var session = PostgresWriteSession.Borrow(connection, driver.Sql, driver.Commands, driver.Location, driver.MapError);
        var context = new WriteContext(session, driver.Commands, store.Options.TimeProvider);
        context.StartBatch();
        try
        {
            var id = state.Admission.EnqueueInTransaction(context, state, context.QueueId(queue.Name), message);
            session.FinishBorrowed();
            return id;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.NoActiveSqlTransaction)
        {
            throw new InvalidOperationException(PostgresErrorMessages.TransactionCompleted, ex);
        }
        catch (Exception ex)
        {
            // Undo what this call wrote, so the app's transaction stays usable (unless the connection itself broke).
            if (!PostgresErrors.IsUnreachable(ex))
            {
                try
                {
                    session.RollbackToSavepoint(PostgresWriteSession.BorrowedSavepoint);
                }
                catch (PostgresException)
                {
                    // The app's transaction was aborted beyond the savepoint; the app rolls it back.
                }
            }

            if (driver.MapError(ex) is var mapped && !ReferenceEquals(mapped, ex))
            {
                throw mapped;
            }

            throw;
        }
    }

    /// <summary>
    /// Enqueues a message whose body is the UTF-8 encoding of a string, in the app's own open transaction.
    /// </summary>
    /// <param name="queue">A queue of a store opened on PostgreSQL, in the same database as <paramref name="transaction"/>.</param>
    /// <param name="transaction">The app's open transaction.</param>
    /// <param name="body">The message text.</param>
    /// <param name="options">The message options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The id the message has once the transaction commits.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="body"/> is <see langword="null"/>.</exception>
    public static MessageId Enqueue(this MessageQueue queue, NpgsqlTransaction transaction, string body, EnqueueOptions? options = null) =>
        Enqueue(queue, transaction, PendingMessage.Utf8(body), options);
}
