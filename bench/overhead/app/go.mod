module nbf.bench/overhead

go 1.26
