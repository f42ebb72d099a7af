using System.Globalization;
using Npgsql;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>
/// What the STORE argument of a command names: a SQLite file, or a PostgreSQL database given as a connection string
/// (<c>Host=db;Database=app;Username=app;Password=...</c>) or a URI (<c>postgresql://app:...@db:5432/app</c>). The form
/// decides, and it is decided here only. The connection string is never printed: messages name the store by
/// <see cref="Display"/>, which has no password.
/// </summary>
internal sealed class StoreTarget
{
    // Keys that only a connection string has (spaces removed, lower case): a file name with one of them before '=' is not plausible.
    private static readonly HashSet<string> s_keywords =
        ["host", "server", "port", "database", "db", "username", "userid", "user", "password", "pwd", "sslmode"];

    private StoreTarget(string text, string? connectionString, string display)
    {
        Text = text;
        ConnectionString = connectionString;
        Display = display;
    }

    /// <summary>Gets the argument as given (a file path, or a connection string that may hold a password: never print it).</summary>
    public string Text { get; }

    /// <summary>Gets the Npgsql connection string of a PostgreSQL store, or <see langword="null"/> for a file.</summary>
    public string? ConnectionString { get; }

    /// <summary>Gets a value indicating whether the store is a PostgreSQL database.</summary>
    public bool IsPostgres => ConnectionString is not null;

    /// <summary>Gets the store's name for messages: the full path of a file, or <c>postgresql://user@host:port/database</c> without the password.</summary>
    public string Display { get; }

    /// <summary>Tells a connection string or a URI from a file path, by its form.</summary>
    /// <exception cref="CliException">A <c>postgresql://</c> URI that cannot be read (exit 2); the message never repeats the URI.</exception>
    public static StoreTarget Parse(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
        {
            return Postgres(text, FromUri(trimmed));
        }

        if (IsKeywordForm(trimmed))
        {
            return Postgres(text, trimmed);
        }

        return new StoreTarget(text, null, Path.GetFullPath(text));
    }

    private static StoreTarget Postgres(string text, string connectionString)
    {
        string display;
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            var user = string.IsNullOrEmpty(builder.Username) ? "" : builder.Username + "@";
            display = string.Create(CultureInfo.InvariantCulture, $"postgresql://{user}{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}");
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
        {
            // The library reports the exact problem when it opens the store; the display is only for messages.
            display = "postgresql://(connection string)";
        }

        return new StoreTarget(text, connectionString, display);
    }

    /// <summary>Keyword form: <c>key=value</c> parts separated by ';', at least one with a connection-string keyword (Host, Database, ...).</summary>
    private static bool IsKeywordForm(string text)
    {
        if (!text.Contains('=', StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && s_keywords.Contains(part[..equals].Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant()))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Turns <c>postgresql://[user[:password]@][host[:port][,host[:port]...]][/database][?key=value&amp;...]</c> into an
    /// Npgsql connection string. Parts are percent-decoded; the query takes libpq's names (host, port, user, password,
    /// dbname, sslmode, application_name, connect_timeout, options, target_session_attrs, sslrootcert, sslcert, sslkey,
    /// sslpassword).
    /// </summary>
    internal static string FromUri(string uri)
    {
        var rest = uri[(uri.IndexOf("://", StringComparison.Ordinal) + 3)..];
        string? query = null;
        var question = rest.IndexOf('?', StringComparison.Ordinal);
        if (question >= 0)
        {
            query = rest[(question + 1)..];
            rest = rest[..question];
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? rest : rest[..slash];
        var database = slash < 0 ? "" : Decode(rest[(slash + 1)..], "database");

        var builder = new NpgsqlConnectionStringBuilder();
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = authority[..at];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Decode(colon < 0 ? userInfo : userInfo[..colon], "user name");
            if (colon >= 0)
            {
                builder.Password = Decode(userInfo[(colon + 1)..], "password");
            }

            authority = authority[(at + 1)..];
        }

        var hosts = authority.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(SplitHost).ToList();
        if (hosts.Count == 1)
        {
            builder.Host = hosts[0].Host;
            if (hosts[0].Port is { } port)
            {
                builder.Port = port;
            }
        }
        else if (hosts.Count > 1)
        {
            builder.Host = string.Join(',', hosts.Select(h => h.Port is { } p ? string.Create(CultureInfo.InvariantCulture, $"{h.Host}:{p}") : h.Host));
        }

        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in (query ?? "").Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Decode(equals < 0 ? pair : pair[..equals], "parameter name");
            var value = equals < 0 ? "" : Decode(pair[(equals + 1)..], key);
            Apply(builder, key, value);
        }

        return builder.ConnectionString;
    }

    private static void Apply(NpgsqlConnectionStringBuilder builder, string key, string value)
    {
        switch (key)
        {
            case "host":
                builder.Host = value;
                break;
            case "port":
                builder.Port = Port(value);
                break;
            case "user":
                builder.Username = value;
                break;
            case "password":
                builder.Password = value;
                break;
            case "dbname":
                builder.Database = value;
                break;
            case "sslmode":
                builder.SslMode = value.ToLowerInvariant() switch
                {
                    "disable" => SslMode.Disable,
                    "allow" => SslMode.Allow,
                    "prefer" => SslMode.Prefer,
                    "require" => SslMode.Require,
                    "verify-ca" => SslMode.VerifyCA,
                    "verify-full" => SslMode.VerifyFull,
                    _ => throw Bad($"sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full"),
                };
                break;
            case "application_name":
                builder.ApplicationName = value;
                break;
            case "connect_timeout":
                builder.Timeout = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? seconds : throw Bad($"connect_timeout '{value}' is not a whole number of seconds");
                break;
            case "options":
                builder.Options = value;
                break;
            case "target_session_attrs":
                builder.TargetSessionAttributes = value;
                break;
            case "sslrootcert":
                builder.RootCertificate = value;
                break;
            case "sslcert":
                builder.SslCertificate = value;
                break;
            case "sslkey":
                builder.SslKey = value;
                break;
            case "sslpassword":
                builder.SslPassword = value;
                break;
            default:
                throw Bad($"the parameter '{key}' is not one dq reads from a URI; use the keyword form (Host=...;Database=...) for Npgsql's other settings");
        }
    }

    private static (string Host, int? Port) SplitHost(string text)
    {
        if (text.StartsWith('['))
        {
            // [IPv6]:port
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw Bad("an IPv6 host in [brackets] is not closed");
            }

            var after = text[(close + 1)..];
            return (text[1..close], after.StartsWith(':') ? Port(after[1..]) : after.Length == 0 ? null : throw Bad("unexpected text after an IPv6 host"));
        }

        var colon = text.LastIndexOf(':');
        return colon < 0 ? (Decode(text, "host"), null) : (Decode(text[..colon], "host"), Port(text[(colon + 1)..]));
    }

    private static int Port(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? port
            : throw Bad($"the port '{text}' is not a number from 1 to 65535");

    private static string Decode(string text, string what)
    {
        try
        {
            return Uri.UnescapeDataString(text);
        }
        catch (UriFormatException)
        {
            throw Bad($"the {what} is not percent-encoded correctly");
        }
    }

    private static CliException Bad(string reason) => new(ExitCodes.Usage, $"the postgresql:// URI cannot be read: {reason}");
}
