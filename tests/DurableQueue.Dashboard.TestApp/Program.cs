using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using DurableQueue.Dashboard;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DurableQueue.Dashboard.TestApp;

/// <summary>
/// An app with the dashboard at /queues. Configuration: <c>DurableQueue:Path</c> (the store file), or
/// <c>ConnectionStrings:DurableQueue</c> and <c>DurableQueue:Postgres:Schema</c> for a store on PostgreSQL, and
/// <c>Dashboard:*</c> (the dashboard options). Users come from a test header scheme; the policy <c>QueueAdmins</c> needs
/// the role admin.
/// </summary>
public static class DashboardTestApp
{
    public const string Policy = "QueueAdmins";
    public const string UserHeader = "X-Test-User";
    public const string RolesHeader = "X-Test-Roles";

    /// <summary>A header the in-memory test server turns into the remote address (it has none of its own).</summary>
    public const string RemoteIpHeader = "X-Test-Remote-Ip";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null, Action<DashboardOptions>? dashboard = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        var queues = builder.Services.AddDurableQueue();
        if (builder.Configuration.GetConnectionString(PostgresDurableQueueBuilderExtensions.ConnectionStringName) is not null)
        {
            queues.UsePostgres();
        }

        builder.Services.AddAntiforgery();
        builder.Services.AddAuthentication(HeaderAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>(HeaderAuthentication.SchemeName, null);
        builder.Services.AddAuthorization(o => o.AddPolicy(Policy, p => p.RequireAuthenticatedUser().RequireRole("admin")));
        configure?.Invoke(builder);

        var app = builder.Build();
        app.Use((context, next) =>
        {
            if (context.Request.Headers.TryGetValue(RemoteIpHeader, out var ip))
            {
                context.Connection.RemoteIpAddress = IPAddress.Parse(ip.ToString());
            }

            return next(context);
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapDurableQueueDashboard("/queues", o =>
        {
            app.Configuration.GetSection("Dashboard").Bind(o);
            dashboard?.Invoke(o);
        });
        return app;
    }
}

/// <summary>Authenticates a request by its test headers: a user name and comma-separated roles.</summary>
public sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "TestHeaders";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(DashboardTestApp.UserHeader, out var user))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var claims = new List<Claim> { new(ClaimTypes.Name, user.ToString()) };
        if (Request.Headers.TryGetValue(DashboardTestApp.RolesHeader, out var roles))
        {
            claims.AddRange(roles.ToString().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(r => new Claim(ClaimTypes.Role, r)));
        }

        var identity = new ClaimsIdentity(claims, SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }
}

public partial class Program
{
    public static void Main(string[] args) => DashboardTestApp.Build(args).Run();
}
