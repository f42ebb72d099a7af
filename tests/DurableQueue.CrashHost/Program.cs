Console.WriteLine("READY");
