namespace DurableQueue.Dashboard.Internal;

/// <summary>The defaults of <see cref="DashboardOptions"/>, in one place.</summary>
internal static class DashboardDefaults
{
    public const int MaxBodyBytes = 64 * 1024;
    public const int PageSize = 50;
    public const int MaxSamples = 10_000;
    public const string Title = "DurableQueue";
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan HistoryLength = TimeSpan.FromHours(1);

    /// <summary>Rates are the change of the running totals over about this long.</summary>
    public static readonly TimeSpan RateWindow = TimeSpan.FromMinutes(1);
}
