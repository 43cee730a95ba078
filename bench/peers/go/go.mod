module weftgopeer

go 1.19
