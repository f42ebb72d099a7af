using System.Diagnostics;
using System.Globalization;

namespace DurableQueue.PropertyTests.Crash;

/// <summary>
/// Runs the crash host (copied next to the tests through the project reference) as a child process and collects
/// its stdout lines as they arrive.
/// </summary>
internal sealed class HostProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<long> _arrivals = [];
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _arrived = new(0);

    private HostProcess(Process process) => _process = process;

    public static string HostDll => Path.Combine(AppContext.BaseDirectory, "DurableQueue.CrashHost.dll");

    /// <summary>The dotnet executable that runs this test process, so the child uses the same runtime.</summary>
    public static string DotNet =>
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";

    /// <summary>Gets the exit code once the host has exited and every line it printed has been read, else null.</summary>
    public int? ExitCode => Exited() ? _process.ExitCode : null;

    public int ProcessId => _process.Id;

    /// <summary>Starts the host; <paramref name="wrapper"/> runs it under another program (fiu-run) when given.</summary>
    public static HostProcess Start(string mode, string file, IEnumerable<string> settings, IReadOnlyList<string>? wrapper = null)
    {
        var info = new ProcessStartInfo
        {
            FileName = wrapper is null ? DotNet : wrapper[0],
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (wrapper is not null)
        {
            foreach (var arg in wrapper.Skip(1))
            {
                info.ArgumentList.Add(arg);
            }

            info.ArgumentList.Add(DotNet);
        }

        info.ArgumentList.Add(HostDll);
        info.ArgumentList.Add(mode);
        info.ArgumentList.Add(file);
        foreach (var setting in settings)
        {
            info.ArgumentList.Add(setting);
        }

        var process = new Process { StartInfo = info };
        var host = new HostProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (host._lock)
                {
                    host._lines.Add(line);
                    host._arrivals.Add(Stopwatch.GetTimestamp());
                }

                host._arrived.Release();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (host._lock)
                {
                    host._lines.Add("STDERR " + line);
                    host._arrivals.Add(Stopwatch.GetTimestamp());
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Lets a host started with <c>start=stdin</c> begin its work (the line GO on its stdin).</summary>
    public void Go()
    {
        _process.StandardInput.WriteLine("GO");
        _process.StandardInput.Flush();
    }

    /// <summary>Ends a host started with <c>stop=stdin</c>: it finishes the operations in flight and prints DONE.</summary>
    public void Stop()
    {
        _process.StandardInput.WriteLine("STOP");
        _process.StandardInput.Flush();
    }

    /// <summary>
    /// Waits until a line after the first <paramref name="skip"/> lines matches <paramref name="predicate"/>; returns
    /// whether one did before the host exited or the timeout passed.
    /// </summary>
    public async Task<bool> WaitForLineAsync(int skip, Func<string, bool> predicate, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var seen = LineCount;
            if (Lines.Skip(skip).Any(predicate))
            {
                return true;
            }

            var left = TimeSpan.FromSeconds((deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
            if (left <= TimeSpan.Zero || Exited())
            {
                return Lines.Skip(skip).Any(predicate);
            }

            await WaitForLinesAsync(seen + 1, left);
        }
    }

    /// <summary>Gets when each line of <see cref="Lines"/> arrived here (<see cref="Stopwatch"/> timestamps), in the same order.</summary>
    public IReadOnlyList<long> Arrivals
    {
        get
        {
            lock (_lock)
            {
                return [.. _arrivals];
            }
        }
    }

    public int LineCount
    {
        get
        {
            lock (_lock)
            {
                return _lines.Count;
            }
        }
    }

    /// <summary>Waits until the host printed at least <paramref name="count"/> lines, exited, or the timeout passed.</summary>
    public async Task WaitForLinesAsync(int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (LineCount < count && !Exited())
        {
            var left = TimeSpan.FromSeconds((deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            // Woken by each line; the short cap only notices an exit that prints nothing.
            await _arrived.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>
    /// Gets whether the host exited, after reading what it printed last: the exit can be seen before the last lines of
    /// its redirected output have been read, and a caller that stops waiting at the exit would miss them.
    /// </summary>
    private bool Exited()
    {
        if (!_process.HasExited)
        {
            return false;
        }

        // Without a timeout, this also waits until the output and error streams have been read to their end.
        _process.WaitForExit();
        return true;
    }

    /// <summary>SIGKILL on Linux: no finalizers, no Dispose, no flush beyond what the host already wrote.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        _process.WaitForExit();
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            _process.WaitForExit(); // drains the asynchronous output readers
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The lines printed so far; a line cut off by a kill is dropped by the parsers.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lock)
            {
                return [.. _lines];
            }
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
        _arrived.Dispose();
    }
}

/// <summary>What a host run confirmed, parsed from its lines.</summary>
internal sealed class HostLog
{
    public HashSet<long> Enqueued { get; } = [];

    public HashSet<long> Acked { get; } = [];

    public Dictionary<long, int> MaxAttempt { get; } = [];

    public List<Lease> Leases { get; } = [];

    public Dictionary<string, long> Extensions { get; } = new(StringComparer.Ordinal);

    /// <summary>Gets the confirmed nacks, in order: the message and the receipt of the delivery that was nacked.</summary>
    public List<(long Id, string Receipt)> Nacks { get; } = [];

    /// <summary>Gets the acks that were started (ACKING) and neither confirmed nor failed: at most one per consumer.</summary>
    public HashSet<long> AcksInFlight { get; } = [];

    /// <summary>Gets every line that names a message, in order, as (kind, id, index of the line).</summary>
    public List<(string Kind, long Id, int Line)> Events { get; } = [];

    public List<string> Errors { get; } = [];

    public bool Done { get; private set; }

    public static HostLog Parse(IEnumerable<string> lines, HostLog? into = null)
    {
        var log = into ?? new HostLog();
        var index = 0;
        foreach (var line in lines)
        {
            index++;
            var f = line.Split(' ');
            switch (f[0])
            {
                case "ENQ" when f.Length == 2 && long.TryParse(f[1], CultureInfo.InvariantCulture, out var id):
                    log.Enqueued.Add(id);
                    break;
                case "ACKING" when f.Length == 2 && long.TryParse(f[1], CultureInfo.InvariantCulture, out var id):
                    log.AcksInFlight.Add(id);
                    break;
                case "ACK" when f.Length == 2 && long.TryParse(f[1], CultureInfo.InvariantCulture, out var id):
                    log.Acked.Add(id);
                    log.AcksInFlight.Remove(id);
                    log.Events.Add(("ACK", id, index));
                    break;
                case "NACK" when f.Length == 3 && long.TryParse(f[1], CultureInfo.InvariantCulture, out var id):
                    log.Nacks.Add((id, f[2]));
                    log.Events.Add(("NACK", id, index));
                    break;
                case "LEASE" when f.Length == 5 && long.TryParse(f[1], CultureInfo.InvariantCulture, out var id)
                                  && long.TryParse(f[3], CultureInfo.InvariantCulture, out var until)
                                  && int.TryParse(f[4], CultureInfo.InvariantCulture, out var attempt):
                    log.Leases.Add(new Lease(id, f[2], until, attempt));
                    log.MaxAttempt[id] = Math.Max(attempt, log.MaxAttempt.GetValueOrDefault(id));
                    log.Events.Add(("LEASE", id, index));
                    break;
                case "EXTEND" when f.Length == 4 && long.TryParse(f[3], CultureInfo.InvariantCulture, out var until):
                    log.Extensions[f[2]] = Math.Max(until, log.Extensions.GetValueOrDefault(f[2]));
                    break;
                case "ERR":
                    log.Errors.Add(line);
                    // A settle that threw did not commit: an ack started before it is no longer in flight.
                    if (f.Length > 1 && f[1].StartsWith("settle:", StringComparison.Ordinal)
                        && long.TryParse(f[1].AsSpan("settle:".Length), CultureInfo.InvariantCulture, out var failed))
                    {
                        log.AcksInFlight.Remove(failed);
                    }

                    break;
                case "DONE":
                    log.Done = true;
                    break;
            }
        }

        return log;
    }
}

internal sealed record Lease(long Id, string Receipt, long ExpiresAtMs, int Attempt);
