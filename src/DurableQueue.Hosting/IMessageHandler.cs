namespace DurableQueue.Hosting;

/// <summary>Handles the raw messages of one queue. A new instance is resolved from a DI scope of its own for each message.</summary>
/// <remarks>
/// Return to ack the message; throw to have it retried after a backoff delay (and dead-lettered after the last attempt).
/// To commit the app's own SQL writes and the ack in one transaction, call
/// <see cref="MessageContext.CompleteAsync(Action{QueueTransaction}, CancellationToken)"/> before returning.
/// </remarks>
public interface IMessageHandler
{
    /// <summary>Handles one message.</summary>
    /// <param name="context">The message and its settle operations.</param>
    /// <param name="cancellationToken">Cancelled when the lease is lost or the host's shutdown timeout ends.</param>
    /// <returns>A task that completes when the message is handled.</returns>
    ValueTask HandleAsync(MessageContext context, CancellationToken cancellationToken);
}

/// <summary>Handles the messages of one queue, deserialized from JSON. A new instance is resolved from a DI scope of its own for each message.</summary>
/// <typeparam name="TMessage">The message type.</typeparam>
public interface IMessageHandler<in TMessage>
{
    /// <summary>Handles one message.</summary>
    /// <param name="message">The deserialized message body.</param>
    /// <param name="context">The message and its settle operations.</param>
    /// <param name="cancellationToken">Cancelled when the lease is lost or the host's shutdown timeout ends.</param>
    /// <returns>A task that completes when the message is handled.</returns>
    ValueTask HandleAsync(TMessage message, MessageContext context, CancellationToken cancellationToken);
}

/// <summary>Runs the jobs of one queue and returns their result, which <see cref="JobClient"/> can read and await.</summary>
/// <typeparam name="TArgument">The job's argument type, read from the message body as JSON.</typeparam>
/// <typeparam name="TResult">The result type, stored as JSON with the job's status.</typeparam>
public interface IJobHandler<in TArgument, TResult>
{
    /// <summary>Runs one job.</summary>
    /// <param name="argument">The job's argument.</param>
    /// <param name="context">The job's message.</param>
    /// <param name="cancellationToken">Cancelled when the lease is lost or the host's shutdown timeout ends.</param>
    /// <returns>The result; it is stored in the same transaction as the ack.</returns>
    ValueTask<TResult> HandleAsync(TArgument argument, MessageContext context, CancellationToken cancellationToken);
}
