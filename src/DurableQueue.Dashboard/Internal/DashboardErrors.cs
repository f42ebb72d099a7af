using System.Globalization;

namespace DurableQueue.Dashboard.Internal;

/// <summary>The dashboard's error messages: one or two sentences, naming the object and the fix.</summary>
internal static class DashboardErrors
{
    public const string EmptyTitle = "The dashboard title must not be empty.";

    public const string BlankPolicy = "The authorization policy name must not be blank; set it to null for a local-only dashboard.";

    public const string WriteActionsNeedPolicy =
        "Dashboard write actions need an authorization policy: set DashboardOptions.AuthorizationPolicy to a policy registered with AddAuthorization.";

    public const string AntiforgeryMissing =
        "Dashboard write actions need the antiforgery services: call builder.Services.AddAntiforgery() before building the app.";

    public const string NoStore =
        "The dashboard found no QueueStore: register one with AddDurableQueue (or as a singleton), or set DashboardOptions.Store.";

    public const string LocalOnly =
        "This dashboard answers only requests from this machine. Set DashboardOptions.AuthorizationPolicy to open it to others.";

    public const string BadQueueName = "This is not a valid queue name.";

    public const string BadId = "The id must be a positive whole number.";

    public const string ConfirmMismatch = "To purge, send the queue name as the confirmation.";

    public const string NothingSelected = "Send the ids to requeue, at most 1000, or all = true.";

    public const string JobsUnavailable = "Jobs need DurableQueue.Hosting: register the store with AddDurableQueue.";

    public const string CompactNotOnPostgres =
        "Compact is for a SQLite file (free pages and the WAL); a store on PostgreSQL has neither: the server's autovacuum reclaims space.";

    public const string BadAntiforgery = "The request carried no valid antiforgery token. Reload the page and try again.";

    public static string OutOfRange(string name, object value) =>
        string.Format(CultureInfo.InvariantCulture, "DashboardOptions.{0} is out of range: {1}. See its documentation for the allowed values.", name, value);

    public static string TooManySamples(TimeSpan history, TimeSpan interval) =>
        string.Format(
            CultureInfo.InvariantCulture,
            "A history of {0} sampled every {1} needs more than {2} samples; sample less often or keep a shorter history.",
            history,
            interval,
            DashboardDefaults.MaxSamples);
}
