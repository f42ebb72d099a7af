namespace HttpIngest;

/// <summary>Settings from the command line (--Port 5080) or appsettings/environment.</summary>
public sealed class IngestSettings
{
    public int Port { get; set; } = 5080;

    public string? Db { get; set; }

    public long Capacity { get; set; } = 100;

    public bool Consumer { get; set; } = true;

    public int WorkMs { get; set; } = 50;
}
