using System.Globalization;

namespace DurableQueue;

/// <summary>
/// Identifies one delivery of a message: the message id and the lease token of that receive.
/// Every ack, nack, extension and dead-letter call is fenced by it, so a consumer whose lease was lost
/// cannot change the message that another consumer now holds.
/// </summary>
public readonly struct MessageReceipt : IEquatable<MessageReceipt>
{
    private readonly Guid _token;

    internal MessageReceipt(MessageId id, Guid token)
    {
        Id = id;
        _token = token;
    }

    /// <summary>Gets the id of the received message.</summary>
    public MessageId Id { get; }

    internal Guid Token => _token;

    /// <summary>Gets a value indicating whether this receipt came from a receive (the default value did not).</summary>
    public bool IsValid => Id.Value > 0 && _token != Guid.Empty;

    /// <summary>Returns the receipt as opaque text, to hand to another process or store it.</summary>
    /// <returns>The receipt in the form that <see cref="Parse"/> reads.</returns>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Id.Value}.{_token:N}");

    /// <summary>Parses a receipt written by <see cref="ToString"/>.</summary>
    /// <param name="text">The receipt text.</param>
    /// <returns>The receipt.</returns>
    /// <exception cref="FormatException"><paramref name="text"/> is not a receipt.</exception>
    public static MessageReceipt Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0
            || !long.TryParse(text.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            || id <= 0
            || !Guid.TryParseExact(text.AsSpan(dot + 1), "N", out var token)
            || token == Guid.Empty)
        {
            throw new FormatException(ErrorMessages.BadReceipt(text));
        }

        return new MessageReceipt(new MessageId(id), token);
    }

    /// <inheritdoc/>
    public bool Equals(MessageReceipt other) => Id == other.Id && _token == other._token;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is MessageReceipt other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Id, _token);

    /// <summary>Compares two receipts for equality.</summary>
    /// <param name="left">The first receipt.</param>
    /// <param name="right">The second receipt.</param>
    /// <returns><see langword="true"/> when both name the same delivery.</returns>
    public static bool operator ==(MessageReceipt left, MessageReceipt right) => left.Equals(right);

    /// <summary>Compares two receipts for inequality.</summary>
    /// <param name="left">The first receipt.</param>
    /// <param name="right">The second receipt.</param>
    /// <returns><see langword="true"/> when the receipts name different deliveries.</returns>
    public static bool operator !=(MessageReceipt left, MessageReceipt right) => !left.Equals(right);
}
