using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace DurableQueue.Docs.Tests;

/// <summary>
/// Runs a documented shell command from the repository root in a process group of its own (as a terminal would), so that
/// a test can press Ctrl+C (SIGINT to the whole group, the way a terminal delivers it) and wait for a line of output.
/// </summary>
internal sealed class CommandProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(Regex Pattern, TaskCompletionSource<string> Seen)> _waiters = [];

    private CommandProcess(Process process) => _process = process;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static CommandProcess Start(string command, IReadOnlyDictionary<string, string>? environment = null)
    {
        // setsid makes the command the leader of a new process group (it execs, so the pid stays the same).
        var start = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var word in command.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            start.ArgumentList.Add(word);
        }

        // The test runner's MSBuild settings must not leak into the nested build of `dotnet run`.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            start.Environment.Remove(key);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start: {command}");
        process.StandardInput.Close();
        var wrapper = new CommandProcess(process);
        process.OutputDataReceived += (_, e) => wrapper.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => wrapper.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return wrapper;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            foreach (var (pattern, seen) in _waiters)
            {
                if (pattern.IsMatch(line))
                {
                    seen.TrySetResult(line);
                }
            }
        }
    }

    /// <summary>Waits for a line matching <paramref name="pattern"/>; fails with the output so far when the process ends or the guard passes first.</summary>
    public async Task<string> WaitForLineAsync(string pattern, TimeSpan guard)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            var earlier = _output.ToString().Split('\n').FirstOrDefault(l => regex.IsMatch(l.TrimEnd('\r')));
            if (earlier is not null)
            {
                return earlier;
            }

            _waiters.Add((regex, seen));
        }

        using var timeout = new CancellationTokenSource(guard);
        var exited = _process.WaitForExitAsync(timeout.Token);
        var first = await Task.WhenAny(seen.Task, exited);
        if (first == seen.Task)
        {
            return await seen.Task;
        }

        // The process ended (a line written just before the exit may still be on its way) or the guard passed.
        if (_process.HasExited)
        {
            _process.WaitForExit();
        }

        if (seen.Task.IsCompleted)
        {
            return await seen.Task;
        }

        throw new Xunit.Sdk.XunitException(
            $"No line matching /{pattern}/ within {guard.TotalSeconds:0} s ({(_process.HasExited ? $"the process exited with {_process.ExitCode}" : "still running")}). Output:\n{Output}");
    }

    /// <summary>Waits for the process to exit and returns its exit code; fails with the output when the guard passes first.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan guard)
    {
        using var timeout = new CancellationTokenSource(guard);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"The command did not exit within {guard.TotalSeconds:0} s. Output:\n{Output}");
        }

        _process.WaitForExit(); // drains the output
        return _process.ExitCode;
    }

    /// <summary>Presses Ctrl+C: SIGINT to every process of the group, as a terminal does.</summary>
    public void Interrupt() => Signal(SigInt);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Signal(SigKill);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private const int SigInt = 2;
    private const int SigKill = 9;

    private void Signal(int signal)
    {
        if (kill(-_process.Id, signal) != 0 && !_process.HasExited)
        {
            throw new InvalidOperationException($"kill(-{_process.Id}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
