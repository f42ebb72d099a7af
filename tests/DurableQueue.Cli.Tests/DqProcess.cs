using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace DurableQueue.Cli.Tests;

/// <summary>A running dq (or a command around it) whose output can be awaited line by line, and which can be sent Ctrl+C.</summary>
internal sealed class DqProcess : IAsyncDisposable
{
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _error = new();
    private readonly SemaphoreSlim _changed = new(0);

    private DqProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public StreamWriter Input => _process.StandardInput;

    /// <summary>Starts dq.dll with the arguments; stdin stays open until the test closes it.</summary>
    public static DqProcess Start(params string[] args) => StartProgram("dotnet", [Path.Combine(AppContext.BaseDirectory, "dq.dll"), .. args]);

    /// <summary>Starts dq inside a pseudo-terminal (util-linux script), so that it can ask a question and read the answer.</summary>
    public static DqProcess StartInTerminal(params string[] args) =>
        StartProgram("script", ["-qec", string.Join(' ', new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, "dq.dll") }.Concat(args)), "/dev/null"]);

    private static DqProcess StartProgram(string program, string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment.Remove("DQ_DEBUG");
        var process = Process.Start(start)!;
        var wrapper = new DqProcess(process);
        // Read characters, not lines: a prompt waits for its answer without ending its line.
        wrapper._readers = Task.WhenAll(wrapper.PumpAsync(process.StandardOutput, wrapper._out), wrapper.PumpAsync(process.StandardError, wrapper._error));
        return wrapper;
    }

    private Task _readers = Task.CompletedTask;

    private async Task PumpAsync(StreamReader reader, StringBuilder target)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (_out)
            {
                target.Append(buffer, 0, read);
            }

            _changed.Release();
        }
    }

    public string Out
    {
        get
        {
            lock (_out)
            {
                return _out.ToString();
            }
        }
    }

    public string Error
    {
        get
        {
            lock (_out)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>Waits until stdout contains <paramref name="text"/>; fails with the output when the guard passes first.</summary>
    public async Task WaitForOutputAsync(string text)
    {
        var deadline = Stopwatch.StartNew();
        while (!Out.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                await _readers; // the rest of the output
                if (Out.Contains(text, StringComparison.Ordinal))
                {
                    return;
                }
            }

            if (_process.HasExited || deadline.Elapsed > Guard)
            {
                throw new Xunit.Sdk.XunitException($"No output '{text}' within {Guard.TotalSeconds} s.\n--- stdout\n{Out}\n--- stderr\n{Error}");
            }

            await _changed.WaitAsync(TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>Waits until the process has <paramref name="file"/> open (read from /proc): it has started and opened the store.</summary>
    public async Task WaitUntilFileOpenAsync(string file)
    {
        var full = Path.GetFullPath(file);
        var deadline = Stopwatch.StartNew();
        while (!HasOpen(full))
        {
            if (deadline.Elapsed > Guard || _process.HasExited)
            {
                throw new Xunit.Sdk.XunitException($"dq did not open {full} within {Guard.TotalSeconds} s.\n--- stdout\n{Out}\n--- stderr\n{Error}");
            }

            await Task.Delay(20);
        }
    }

    private bool HasOpen(string file)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{_process.Id}/fd")
                .Any(fd => new FileInfo(fd).LinkTarget == file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // a descriptor closed while it was being read
        }
    }

    /// <summary>Presses Ctrl+C: SIGINT to the process.</summary>
    public void Interrupt()
    {
        if (kill(_process.Id, 2) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, SIGINT) failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(Guard);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"dq did not exit within {Guard.TotalSeconds} s.\n--- stdout\n{Out}\n--- stderr\n{Error}");
        }

        await _readers;
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _changed.Dispose();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
