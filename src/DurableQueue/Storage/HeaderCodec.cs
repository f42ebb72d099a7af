using System.Collections.Frozen;
using System.Text.Json;

namespace DurableQueue.Storage;

/// <summary>Encodes message headers as a small JSON object of strings.</summary>
internal static class HeaderCodec
{
    public static readonly IReadOnlyDictionary<string, string> Empty = FrozenDictionary<string, string>.Empty;

    public static string? Encode(IReadOnlyDictionary<string, string>? headers)
    {
        if (headers is null || headers.Count == 0)
        {
            return null;
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in headers)
            {
                ArgumentNullException.ThrowIfNull(key, "options.Headers");
                if (value is null)
                {
                    throw new ArgumentException(ErrorMessages.NullHeaderValue(key), "options.Headers");
                }

                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static IReadOnlyDictionary<string, string> Decode(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return Empty;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json));
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            result[key] = reader.GetString() ?? string.Empty;
        }

        return result;
    }
}
