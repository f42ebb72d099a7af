namespace DurableQueue.Forwarding;

/// <summary>
/// Hands messages to a remote system (a broker, an API) and reports, for each one, whether the remote confirmed it,
/// refused it for good, or could not take it now.
/// </summary>
/// <remarks>
/// <para>The forwarder calls <see cref="SendAsync"/> with messages of one ordering key at a time, but it may call it
/// concurrently for different keys: a sink must be safe for concurrent use.</para>
/// <para>A sink sends the messages of a batch in list order over one ordered channel (one connection), so that the
/// remote sees them in that order; it may pipeline them (send the next before the previous is confirmed). A sink that
/// calls <see cref="SendBatch.MarkWritten"/> once a batch is written gets the next batch of the same key before this
/// one is confirmed; it must then keep the order across calls (see <see cref="SendBatch.Previous"/>).</para>
/// <para>Mark each message with <see cref="SendBatch.Confirm"/> only when the remote has taken responsibility for it
/// (an MQTT PUBACK, a publisher confirm, a 2xx answer): the forwarder acks it locally right after. Mark it with
/// <see cref="SendBatch.Reject"/> only when a retry can never help: the forwarder dead-letters it with the reason.
/// A message left unmarked, marked with <see cref="SendBatch.Fail"/>, or in a batch whose call threw, is sent again
/// after a backoff without spending one of its attempts. Finish every mark before the returned task completes.</para>
/// </remarks>
public interface IMessageSink : IAsyncDisposable
{
    /// <summary>Sends the messages of a batch in order and marks the outcome of each.</summary>
    /// <param name="batch">The messages, in the order the remote must see them; the outcomes are recorded on it.</param>
    /// <param name="cancellationToken">A token that stops waiting for the remote; unmarked messages are sent again later.</param>
    /// <returns>A task that completes when every message of the batch has its outcome or can no longer get one.</returns>
    ValueTask SendAsync(SendBatch batch, CancellationToken cancellationToken);
}
