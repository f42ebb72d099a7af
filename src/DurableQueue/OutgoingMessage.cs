namespace DurableQueue;

/// <summary>
/// A message of a batch enqueue: its body and, optionally, its own options.
/// </summary>
/// <param name="Body">The message body.</param>
/// <param name="Options">The options of this message, or <see langword="null"/> for the defaults.</param>
public readonly record struct OutgoingMessage(ReadOnlyMemory<byte> Body, EnqueueOptions? Options = null);
