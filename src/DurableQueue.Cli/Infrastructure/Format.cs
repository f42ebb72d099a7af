using System.Globalization;
using System.Text;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>Turns values into display text: sizes, ages, times and body previews.</summary>
internal static class Format
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }

    public static string Duration(TimeSpan span)
    {
        span = span.Duration();
        if (span < TimeSpan.FromSeconds(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{span.TotalMilliseconds:0}ms");
        }

        if (span < TimeSpan.FromMinutes(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.#}s");
        }

        if (span < TimeSpan.FromHours(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{span.Minutes}m{span.Seconds:00}s");
        }

        return span < TimeSpan.FromDays(1)
            ? string.Create(CultureInfo.InvariantCulture, $"{span.Hours}h{span.Minutes:00}m")
            : string.Create(CultureInfo.InvariantCulture, $"{span.Days}d{span.Hours:00}h");
    }

    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static string Relative(DateTimeOffset time, DateTimeOffset now) =>
        time > now ? $"in {Duration(time - now)}" : time == now ? "now" : $"{Duration(now - time)} ago";

    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A count with its noun, singular or plural: "1 message", "2 messages", "1 dead letter".</summary>
    public static string Count(long value, string noun) => $"{Number(value)} {(value == 1 ? noun : noun + "s")}";

    public static string Headers(IReadOnlyDictionary<string, string> headers) =>
        headers.Count == 0 ? "" : string.Join(", ", headers.Select(h => $"{h.Key}={h.Value}"));

    /// <summary>Decodes a body as text when it is valid UTF-8 without control characters other than tab and line breaks.</summary>
    public static bool TryText(ReadOnlySpan<byte> body, out string text)
    {
        try
        {
            text = s_strictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            text = "";
            return false;
        }

        foreach (var c in text)
        {
            if (char.IsControl(c) && c is not ('\t' or '\r' or '\n'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A one-line preview: text (line breaks shown as ⏎) or hex, cut to <paramref name="width"/> characters.</summary>
    public static string Preview(ReadOnlySpan<byte> body, int width, bool hex)
    {
        string preview;
        if (!hex && TryText(body, out var text))
        {
            preview = text.Replace("\r\n", "⏎", StringComparison.Ordinal).Replace('\n', '⏎').Replace('\r', '⏎').Replace('\t', ' ');
        }
        else
        {
            var shown = body[..Math.Min(body.Length, (width / 2) + 1)];
            preview = "0x" + Convert.ToHexString(shown).ToLowerInvariant();
        }

        return preview.Length > width ? preview[..Math.Max(1, width - 1)] + "…" : preview;
    }

    /// <summary>A classic hex dump: offset, 16 bytes in hex, printable ASCII.</summary>
    public static string HexDump(ReadOnlySpan<byte> body)
    {
        var sb = new StringBuilder();
        for (var offset = 0; offset < body.Length; offset += 16)
        {
            var line = body.Slice(offset, Math.Min(16, body.Length - offset));
            sb.Append(CultureInfo.InvariantCulture, $"{offset:x8}  ");
            for (var i = 0; i < 16; i++)
            {
                sb.Append(i < line.Length ? line[i].ToString("x2", CultureInfo.InvariantCulture) + " " : "   ");
            }

            sb.Append(' ');
            foreach (var b in line)
            {
                sb.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
            }

            sb.AppendLine();
        }

        return sb.ToString().TrimEnd();
    }

    /// <summary>Plain text cells (never markup: message data may contain '[').</summary>
    public static IRenderable[] Cells(params string[] cells) => cells.Select(c => (IRenderable)new Text(c)).ToArray();

    public static TimeSpan ParseDuration(string text, string option)
    {
        text = text.Trim();
        var units = new (string Suffix, double Ms)[] { ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000) };
        foreach (var (suffix, ms) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text.AsSpan(0, text.Length - suffix.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                && n >= 0)
            {
                return TimeSpan.FromMilliseconds(n * ms);
            }
        }

        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero)
        {
            return span;
        }

        throw new CliException(ExitCodes.Usage, $"{option}: '{text}' is not a duration; use e.g. 500ms, 30s, 5m, 2h, 1d or 00:05:00");
    }
}
