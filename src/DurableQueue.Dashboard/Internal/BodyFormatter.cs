using System.Text;

namespace DurableQueue.Dashboard.Internal;

/// <summary>Turns a body into text (when it is valid UTF-8 without control characters) and a hex dump, cut at a limit.</summary>
internal static class BodyFormatter
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static BodyDto Format(ReadOnlySpan<byte> body, int maxBytes)
    {
        var truncated = body.Length > maxBytes;
        var shown = truncated ? body[..maxBytes] : body;
        return new BodyDto(AsText(shown, truncated), Convert.ToHexString(shown), truncated);
    }

    private static string? AsText(ReadOnlySpan<byte> bytes, bool truncated)
    {
        // A cut may split a character: drop up to three trailing bytes of an incomplete sequence.
        for (var trim = 0; trim <= (truncated ? 3 : 0) && trim <= bytes.Length; trim++)
        {
            try
            {
                var text = s_strictUtf8.GetString(bytes[..^trim]);
                return text.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')) ? null : text;
            }
            catch (DecoderFallbackException)
            {
            }
        }

        return null;
    }
}
