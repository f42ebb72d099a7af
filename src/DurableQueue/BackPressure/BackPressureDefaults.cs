namespace DurableQueue.BackPressure;

/// <summary>The fixed numbers of back pressure, in one place.</summary>
internal static class BackPressureDefaults
{
    /// <summary>The least number of pages kept below MaxDatabaseBytes for leases and settles.</summary>
    public const long QuotaReservePages = 32;
}
