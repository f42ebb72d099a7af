using DurableQueue.Storage;

namespace DurableQueue;

public sealed partial class MessageQueue
{
    /// <summary>Deletes one live message of this queue by id, whatever its state (a leased one too); dead letters are not touched.</summary>
    /// <param name="id">The message id.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns><see langword="true"/> when the message was deleted; <see langword="false"/> when the queue has no live message with that id.</returns>
    /// <remarks>A consumer that holds the message's lease gets <see cref="LeaseLostException"/> when it settles it.</remarks>
    /// <exception cref="ObjectDisposedException">The store is disposed.</exception>
    public async ValueTask<bool> DeleteAsync(MessageId id, CancellationToken cancellationToken = default)
    {
        _store.ThrowIfDisposed();
        return await _store.WriteAsync(
            context =>
            {
                return context.Commands.DeleteLive(context, context.QueueId(Name), id.Value);
            },
            cancellationToken).ConfigureAwait(false);
    }
}
