using System.Globalization;

namespace DurableQueue;

/// <summary>
/// Identifies a message in a store. Ids are assigned at enqueue, grow with every enqueue and are never reused.
/// </summary>
/// <param name="Value">The numeric id.</param>
public readonly record struct MessageId(long Value) : IComparable<MessageId>
{
    /// <inheritdoc/>
    public int CompareTo(MessageId other) => Value.CompareTo(other.Value);

    /// <summary>Returns the id as a decimal number.</summary>
    /// <returns>The id in invariant-culture decimal form.</returns>
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses an id written by <see cref="ToString"/>.</summary>
    /// <param name="text">The id as a decimal number.</param>
    /// <returns>The parsed id.</returns>
    /// <exception cref="FormatException"><paramref name="text"/> is not a positive decimal number.</exception>
    public static MessageId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0)
        {
            throw new FormatException(ErrorMessages.BadMessageId(text));
        }

        return new MessageId(value);
    }
}
