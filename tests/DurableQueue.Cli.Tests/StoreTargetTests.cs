using DurableQueue.Cli.Infrastructure;
using Npgsql;

namespace DurableQueue.Cli.Tests;

/// <summary>How dq tells a PostgreSQL connection string or URI from a file path, and how it reads a URI.</summary>
public sealed class StoreTargetTests
{
    [Theory]
    [InlineData("app.db")]
    [InlineData("/srv/data/app.db")]
    [InlineData("odd=name.db")]
    [InlineData("postgresql.db")]
    public void FilePaths_StayFiles(string text)
    {
        var target = StoreTarget.Parse(text);
        Assert.False(target.IsPostgres);
        Assert.Equal(Path.GetFullPath(text), target.Display);
    }

    [Theory]
    [InlineData("Host=db;Database=app;Username=app;Password=pw")]
    [InlineData("host = db ; database = app")]
    [InlineData("Server=db;Port=5433")]
    [InlineData("Database=app;Username=app")]
    public void KeywordForm_IsPostgres(string text)
    {
        var target = StoreTarget.Parse(text);
        Assert.True(target.IsPostgres);
        Assert.DoesNotContain("pw", target.Display, StringComparison.Ordinal);
    }

    [Fact]
    public void Uri_BecomesAConnectionString_PercentDecoded()
    {
        var target = StoreTarget.Parse("postgresql://app%20user:p%40ss%3Aword@db.example:5433/my%20db?sslmode=verify-full&application_name=dq&connect_timeout=7");
        var b = new NpgsqlConnectionStringBuilder(target.ConnectionString);
        Assert.Equal(("app user", "p@ss:word", "db.example", 5433, "my db"), (b.Username, b.Password, b.Host, b.Port, b.Database));
        Assert.Equal((SslMode.VerifyFull, "dq", 7), (b.SslMode, b.ApplicationName, b.Timeout));
        Assert.Equal("postgresql://app user@db.example:5433/my db", target.Display);
    }

    [Fact]
    public void Uri_ShortForms_IPv6_SeveralHosts_SocketFolder()
    {
        var plain = new NpgsqlConnectionStringBuilder(StoreTarget.Parse("postgres://db").ConnectionString);
        Assert.Equal(("db", 5432, (string?)null), (plain.Host, plain.Port, plain.Database));

        var v6 = new NpgsqlConnectionStringBuilder(StoreTarget.Parse("postgresql://[::1]:6000/app").ConnectionString);
        Assert.Equal(("::1", 6000), (v6.Host, v6.Port));

        var several = new NpgsqlConnectionStringBuilder(StoreTarget.Parse("postgresql://u@a:5432,b:5433/app?target_session_attrs=read-write").ConnectionString);
        Assert.Equal(("a:5432,b:5433", "read-write"), (several.Host, several.TargetSessionAttributes));

        var socket = new NpgsqlConnectionStringBuilder(StoreTarget.Parse("postgresql:///app?host=%2Fvar%2Frun%2Fpostgresql&user=me").ConnectionString);
        Assert.Equal(("/var/run/postgresql", "app", "me"), (socket.Host, socket.Database, socket.Username));
    }

    [Theory]
    [InlineData("postgresql://u:hidden@db:port/app", "port")]
    [InlineData("postgresql://u:hidden@db/app?sslmode=sometimes", "sslmode")]
    [InlineData("postgresql://u:hidden@db/app?unknown=1", "unknown")]
    [InlineData("postgresql://u:hidden@[::1/app", "IPv6")]
    public void BadUri_Exit2_WithoutThePassword(string text, string names)
    {
        var ex = Assert.Throws<CliException>(() => StoreTarget.Parse(text));
        Assert.Equal(ExitCodes.Usage, ex.ExitCode);
        Assert.Contains(names, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hidden", ex.Message, StringComparison.Ordinal);
    }
}
