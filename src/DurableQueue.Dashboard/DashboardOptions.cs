using DurableQueue.Dashboard.Internal;

namespace DurableQueue.Dashboard;

/// <summary>
/// Represents the options of a DurableQueue dashboard mapped with <c>MapDurableQueueDashboard</c>.
/// </summary>
/// <remarks>
/// <para>The defaults are the safe ones: read-only, message bodies hidden, and only requests from this machine
/// (loopback, not forwarded by a proxy) are answered. Naming an <see cref="AuthorizationPolicy"/> opens the dashboard
/// to whoever the policy admits; write actions need such a policy.</para>
/// <para>The options are copied when the dashboard is mapped; later changes have no effect.</para>
/// </remarks>
public sealed class DashboardOptions
{
    /// <summary>Gets or sets the name of the authorization policy every page and action of the dashboard requires.</summary>
    /// <value>
    /// The default value is <see langword="null"/>: no policy, and the dashboard answers only requests whose remote
    /// address is loopback and that carry no forwarding header (<c>Forwarded</c>, <c>X-Forwarded-For</c>, <c>X-Forwarded-Host</c>).
    /// </value>
    /// <remarks>Register the policy with <c>AddAuthorization</c>; an unknown name fails every request rather than opening the dashboard.</remarks>
    public string? AuthorizationPolicy { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the dashboard offers actions that change the store: requeue and purge
    /// dead letters, cancel jobs, verify and compact the file.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: read-only; the action endpoints are not mapped at all.</value>
    /// <remarks>
    /// Needs an <see cref="AuthorizationPolicy"/> and the antiforgery services (<c>AddAntiforgery</c>): every action
    /// must carry the antiforgery token the page received, so another site cannot trigger one in the user's browser.
    /// </remarks>
    public bool EnableWriteActions { get; set; }

    /// <summary>Gets or sets a value indicating whether message bodies and job results are shown (as text or hex).</summary>
    /// <value>The default value is <see langword="false"/>: bodies can hold personal data; only their size is shown.</value>
    public bool ShowMessageBodies { get; set; }

    /// <summary>Gets or sets the most body bytes shown per message when <see cref="ShowMessageBodies"/> is on.</summary>
    /// <value>The default value is 65,536 (64 KiB). Allowed: 16 to 16,777,216.</value>
    public int MaxBodyBytes { get; set; } = DashboardDefaults.MaxBodyBytes;

    /// <summary>Gets or sets how often an open page asks for fresh figures.</summary>
    /// <value>The default value is 2 seconds. Allowed: 100 milliseconds to 10 minutes.</value>
    /// <remarks>
    /// Pages open at the same time share one reading of the store: the figures are read at most twice per interval
    /// however many pages are open.
    /// </remarks>
    public TimeSpan RefreshInterval { get; set; } = DashboardDefaults.RefreshInterval;

    /// <summary>Gets or sets how often the depth of every queue is sampled in the background for the chart.</summary>
    /// <value>The default value is 10 seconds. Allowed: 100 milliseconds to 10 minutes.</value>
    public TimeSpan SampleInterval { get; set; } = DashboardDefaults.SampleInterval;

    /// <summary>Gets or sets how far back the depth chart reaches (samples are kept in memory, never in the store).</summary>
    /// <value>The default value is 1 hour. Allowed: 1 minute to 24 hours, and at most 10,000 samples (<see cref="HistoryLength"/> / <see cref="SampleInterval"/>).</value>
    public TimeSpan HistoryLength { get; set; } = DashboardDefaults.HistoryLength;

    /// <summary>Gets or sets how many messages, dead letters or jobs a page lists at a time.</summary>
    /// <value>The default value is 50. Allowed: 1 to 1000.</value>
    public int PageSize { get; set; } = DashboardDefaults.PageSize;

    /// <summary>Gets or sets the store to show.</summary>
    /// <value>The default value is <see langword="null"/>: the <see cref="QueueStore"/> registered in the app's services (by <c>AddDurableQueue</c>).</value>
    public QueueStore? Store { get; set; }

    /// <summary>Gets or sets the title shown in the page header and the browser tab.</summary>
    /// <value>The default value is <c>DurableQueue</c>.</value>
    public string Title { get; set; } = DashboardDefaults.Title;

    /// <summary>Gets or sets the clock of the background sampler and of rates.</summary>
    /// <value>The default value is <see langword="null"/>: the <see cref="System.TimeProvider"/> registered in the app's services, else the system clock.</value>
    public TimeProvider? TimeProvider { get; set; }

    internal DashboardOptions Clone() => (DashboardOptions)MemberwiseClone();

    internal void Validate()
    {
        Check(nameof(MaxBodyBytes), MaxBodyBytes is >= 16 and <= 16 * 1024 * 1024, MaxBodyBytes);
        Check(nameof(RefreshInterval), RefreshInterval >= TimeSpan.FromMilliseconds(100) && RefreshInterval <= TimeSpan.FromMinutes(10), RefreshInterval);
        Check(nameof(SampleInterval), SampleInterval >= TimeSpan.FromMilliseconds(100) && SampleInterval <= TimeSpan.FromMinutes(10), SampleInterval);
        Check(nameof(HistoryLength), HistoryLength >= TimeSpan.FromMinutes(1) && HistoryLength <= TimeSpan.FromHours(24), HistoryLength);
        Check(nameof(PageSize), PageSize is >= 1 and <= 1000, PageSize);
        if (HistoryLength / SampleInterval > DashboardDefaults.MaxSamples)
        {
            throw new ArgumentException(DashboardErrors.TooManySamples(HistoryLength, SampleInterval), nameof(HistoryLength));
        }

        if (string.IsNullOrWhiteSpace(Title))
        {
            throw new ArgumentException(DashboardErrors.EmptyTitle, nameof(Title));
        }

        if (AuthorizationPolicy is not null && string.IsNullOrWhiteSpace(AuthorizationPolicy))
        {
            throw new ArgumentException(DashboardErrors.BlankPolicy, nameof(AuthorizationPolicy));
        }

        if (EnableWriteActions && AuthorizationPolicy is null)
        {
            throw new InvalidOperationException(DashboardErrors.WriteActionsNeedPolicy);
        }
    }

    private static void Check(string name, bool valid, object value)
    {
        if (!valid)
        {
            throw new ArgumentOutOfRangeException(name, value, DashboardErrors.OutOfRange(name, value));
        }
    }
}
