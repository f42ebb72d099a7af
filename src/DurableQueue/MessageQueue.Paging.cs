using DurableQueue.Internal;
using DurableQueue.Storage;

namespace DurableQueue;

public sealed partial class MessageQueue
{
    /// <summary>
    /// Lists messages of this queue in id (enqueue) order without leasing them, for paging through a whole queue
    /// (exports, tools). Pass the last id of a page as <paramref name="after"/> to read the next page.
    /// </summary>
    /// <param name="maxCount">The most messages to return, from 1 to 1000.</param>
    /// <param name="after">Return only messages with a larger id, or <see langword="null"/> to start at the first.</param>
    /// <param name="cancellationToken">A token to cancel the operation.</param>
    /// <returns>The messages; empty after the last page.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxCount"/> is out of range.</exception>
    public ValueTask<IReadOnlyList<MessageInfo>> GetMessagesAsync(int maxCount = 100, MessageId? after = null, CancellationToken cancellationToken = default)
    {
        Validate.MaxMessages(maxCount, nameof(maxCount));
        var afterId = after?.Value ?? 0;
        return _store.ReadAsync<IReadOnlyList<MessageInfo>>(r => r.MessagesAfter(Name, afterId, maxCount, _store.NowMs), cancellationToken);
    }
}
