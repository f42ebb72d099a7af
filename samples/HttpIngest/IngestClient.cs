using System.Net;
using System.Text;
using DurableQueue;

namespace HttpIngest;

/// <summary>A producer that posts jobs and retries "503 Service Unavailable" with exponential backoff and full jitter.</summary>
public static class IngestClient
{
    public static async Task<int> RunAsync(Uri server, string[] args)
    {
        var count = args.SkipWhile(a => a != "--Jobs").Skip(1).Select(int.Parse).FirstOrDefault(100);
        using var http = new HttpClient { BaseAddress = server };
        var backoff = Backoff.Exponential(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30));
        var retries = 0;
        for (var i = 0; i < count; i++)
        {
            for (var attempt = 1; ; attempt++)
            {
                using var response = await http.PostAsync("/jobs", new StringContent($"job {i}", Encoding.UTF8));
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    Console.WriteLine($"job {i} accepted: {response.Headers.Location}");
                    break;
                }

                if (response.StatusCode != HttpStatusCode.ServiceUnavailable || attempt == 10)
                {
                    Console.Error.WriteLine($"job {i} failed: {(int)response.StatusCode}");
                    return 1;
                }

                // Wait at least what the server asked for, and spread clients out with jitter on top of it.
                var serverHint = response.Headers.RetryAfter?.Delta ?? TimeSpan.Zero;
                var delay = serverHint + backoff.GetDelay(attempt);
                retries++;
                await Task.Delay(delay);
            }
        }

        Console.WriteLine($"{count} jobs accepted after {retries} retries of 503");
        return 0;
    }
}
