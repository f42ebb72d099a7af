namespace DurableQueue.Hosting;

/// <summary>
/// Represents a message being handled by a hosted handler: the message, its queue, the scope's services, and a way
/// to commit the app's own writes together with the ack.
/// </summary>
public sealed class MessageContext
{
    private readonly Delivery _delivery;

    internal MessageContext(Delivery delivery, IServiceProvider services)
    {
        _delivery = delivery;
        Services = services;
    }

    /// <summary>Gets the received message (its headers, attempt and body).</summary>
    public QueueMessage Message => _delivery.Message;

    /// <summary>Gets the queue the message came from.</summary>
    public MessageQueue Queue => _delivery.Queue;

    /// <summary>Gets the services of the DI scope created for this message.</summary>
    public IServiceProvider Services { get; }

    /// <summary>Gets the id of the message, which is also the job id when it was submitted as a job.</summary>
    public MessageId Id => _delivery.Message.Id;

    /// <summary>Gets a value indicating whether the message was submitted as a tracked job through <see cref="JobClient"/>.</summary>
    public bool IsJob => _delivery.IsJob;

    /// <summary>Gets a value indicating whether the message was already completed by <see cref="CompleteAsync(Action{QueueTransaction}, CancellationToken)"/>.</summary>
    public bool IsCompleted => _delivery.IsSettledOrSettling;

    /// <summary>
    /// Runs the app's own SQL writes and acks the message in one transaction, fenced by the lease: if the lease was lost,
    /// nothing commits and <see cref="LeaseLostException"/> is thrown. The worker does not ack the message again.
    /// </summary>
    /// <param name="work">The app's writes on <see cref="QueueTransaction.Connection"/>; keep it short and synchronous.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>A task that completes once the transaction is committed.</returns>
    /// <exception cref="LeaseLostException">The lease was lost; nothing was committed.</exception>
    /// <exception cref="InvalidOperationException">The message was completed already, or the handler returns a job result.</exception>
    public async ValueTask CompleteAsync(Action<QueueTransaction> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        await CompleteAsync(
            tx =>
            {
                work(tx);
                return 0;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the app's own SQL writes and acks the message in one transaction, fenced by the lease.</summary>
    /// <typeparam name="T">The type of the work's result.</typeparam>
    /// <param name="work">The app's writes on <see cref="QueueTransaction.Connection"/>; keep it short and synchronous.</param>
    /// <param name="cancellationToken">A token to cancel the operation before it reaches the writer.</param>
    /// <returns>The work's result, once the transaction is committed.</returns>
    /// <exception cref="LeaseLostException">The lease was lost; nothing was committed.</exception>
    /// <exception cref="InvalidOperationException">The message was completed already, or the handler returns a job result.</exception>
    public ValueTask<T> CompleteAsync<T>(Func<QueueTransaction, T> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (_delivery.ReturnsResult)
        {
            throw new InvalidOperationException(HostingErrors.CompleteInJobWithResult);
        }

        return _delivery.CompleteAsync(work, result: null, cancellationToken);
    }
}
