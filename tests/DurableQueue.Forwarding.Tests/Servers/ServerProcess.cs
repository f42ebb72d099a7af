using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace DurableQueue.Forwarding.Tests.Servers;

/// <summary>
/// A server started by a test as a child process, on 127.0.0.1 only, with its output collected so that a start that
/// fails can say why. Readiness is a line the server prints, never a sleep.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_lock)
            {
                return string.Join(Environment.NewLine, _output.TakeLast(40));
            }
        }
    }

    /// <summary>Starts the program and waits until it prints a line containing <paramref name="readyLine"/>.</summary>
    public static async Task<ServerProcess> StartAsync(
        string file, IEnumerable<string> arguments, string readyLine, TimeSpan timeout, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        if (!File.Exists(file))
        {
            throw new InvalidOperationException($"{file} is not installed: the tests need it (.ci/run installs it).");
        }

        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process);
        DataReceivedEventHandler collect = (_, e) =>
        {
            if (e.Data is not { } line)
            {
                return;
            }

            lock (server._lock)
            {
                server._output.Add(line);
            }

            if (line.Contains(readyLine, StringComparison.Ordinal))
            {
                server._ready.TrySetResult();
            }
        };
        process.OutputDataReceived += collect;
        process.ErrorDataReceived += collect;
        process.Exited += (_, _) => server._ready.TrySetException(new InvalidOperationException("exited"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server._ready.Task.WaitAsync(timeout);
        }
        catch (Exception ex)
        {
            var why = ex is TimeoutException ? $"did not print '{readyLine}' within {timeout.TotalSeconds:0} s" : "exited before it was ready";
            server.Kill();
            throw new InvalidOperationException($"{Path.GetFileName(file)} could not start: it {why}. Its output:{Environment.NewLine}{server.Output}");
        }

        return server;
    }

    /// <summary>Asks the server to stop (SIGTERM) and waits for it to exit; kills it if it does not within the timeout.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }

        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    /// <summary>A TCP port that is free on 127.0.0.1 right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
