using System.Text.RegularExpressions;

namespace DurableQueue.Internal;

internal static partial class Validate
{
    public static void QueueName(string name, string parameterName)
    {
        ArgumentException.ThrowIfNullOrEmpty(name, parameterName);
        if (!QueueNamePattern().IsMatch(name))
        {
            throw new ArgumentException(ErrorMessages.BadQueueName(name), parameterName);
        }
    }

    public static long Timeout(TimeSpan value, string parameterName)
    {
        if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(7))
        {
            throw new ArgumentOutOfRangeException(parameterName, value, ErrorMessages.TimeoutOutOfRange(value));
        }

        return Math.Max(1, (long)Math.Ceiling(value.TotalMilliseconds));
    }

    public static long Delay(TimeSpan value, string parameterName)
    {
        if (value < TimeSpan.Zero || value > TimeSpan.FromDays(365))
        {
            throw new ArgumentOutOfRangeException(parameterName, value, ErrorMessages.NegativeDelay(value));
        }

        return (long)Math.Ceiling(value.TotalMilliseconds);
    }

    public static void Wait(TimeSpan value, string parameterName)
    {
        if (value < TimeSpan.Zero || value > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(parameterName, value, ErrorMessages.WaitOutOfRange(value));
        }
    }

    public static void MaxMessages(int value, string parameterName)
    {
        if (value is < 1 or > Defaults.MaxReceiveBatch)
        {
            throw new ArgumentOutOfRangeException(parameterName, value, ErrorMessages.MaxMessagesOutOfRange(value));
        }
    }

    public static void Receipt(MessageReceipt receipt, string parameterName)
    {
        if (!receipt.IsValid)
        {
            throw new ArgumentException(ErrorMessages.DefaultReceipt, parameterName);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex QueueNamePattern();
}
