namespace DurableQueue.Internal;

/// <summary>What a store knows about one queue in this process: its options and its wake-up signal.</summary>
internal sealed class QueueState
{
    public QueueState(string name, QueueOptions options)
    {
        Name = name;
        Options = options;
    }

    public string Name { get; }

    public QueueOptions Options { get; }

    /// <summary>Gets how the queue admits new messages; chosen once, when the store first sees the queue.</summary>
    public BackPressure.AdmissionPolicy Admission { get; private set; } = null!;

    /// <summary>Makes the state of a queue the store sees for the first time.</summary>
    public static QueueState Create(string name, QueueOptions options, QueueStore store)
    {
        var state = new QueueState(name, options);
        state.Admission = BackPressure.AdmissionPolicy.Choose(store, state);
        return state;
    }

    /// <summary>Pulsed after every commit that may have made a message of this queue ready (now or later).</summary>
    public AsyncSignal Arrivals { get; } = new();

    private long _queueId;

    /// <summary>Gets or sets the queue's row id once the writer has resolved it (0 before).</summary>
    public long QueueId
    {
        get => Volatile.Read(ref _queueId);
        set => Volatile.Write(ref _queueId, value);
    }
}
